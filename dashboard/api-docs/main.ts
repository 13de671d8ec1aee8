// The API reference at /docs: Swagger UI, bundled into the Worker, rendering the Worker's own /openapi.json.
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import "swagger-ui-dist/swagger-ui.css";

SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No call to validator.swagger.io: the page makes no third-party request.
  validatorUrl: null,
  tryItOutEnabled: false,
  displayOperationId: true,
  docExpansion: "list",
});
