################################################################################
# The API route table: the ONE place where routes are declared.
#
# Every route is an AWS_PROXY integration to the `api` function. Keys are
# "METHOD /path"; `public = true` routes have no authorizer. The e2e suite
# compares this table (output `api_routes`) with the Rust router's listing, and
# the stage is redeployed whenever it changes (see aws_api_gateway_deployment).
################################################################################

locals {
  routes = {
    "GET /healthcheck"             = { method = "GET", path = "/healthcheck", public = true }
    "GET /openapi.json"            = { method = "GET", path = "/openapi.json", public = true }
    "GET /documents"               = { method = "GET", path = "/documents", public = false }
    "POST /documents"              = { method = "POST", path = "/documents", public = false }
    "GET /documents/{id}"          = { method = "GET", path = "/documents/{id}", public = false }
    "PUT /documents/{id}"          = { method = "PUT", path = "/documents/{id}", public = false }
    "PATCH /documents/{id}"        = { method = "PATCH", path = "/documents/{id}", public = false }
    "DELETE /documents/{id}"       = { method = "DELETE", path = "/documents/{id}", public = false }
    "GET /documents/{id}/content"  = { method = "GET", path = "/documents/{id}/content", public = false }
    "POST /documents/{id}/archive" = { method = "POST", path = "/documents/{id}/archive", public = false }
    "POST /documents/{id}/restore" = { method = "POST", path = "/documents/{id}/restore", public = false }
    # Content history and the trash.
    "POST /documents/{id}/undelete"              = { method = "POST", path = "/documents/{id}/undelete", public = false }
    "GET /documents/{id}/revisions"              = { method = "GET", path = "/documents/{id}/revisions", public = false }
    "GET /documents/{id}/revisions/{n}"          = { method = "GET", path = "/documents/{id}/revisions/{n}", public = false }
    "GET /documents/{id}/revisions/{n}/content"  = { method = "GET", path = "/documents/{id}/revisions/{n}/content", public = false }
    "POST /documents/{id}/revisions/{n}/restore" = { method = "POST", path = "/documents/{id}/revisions/{n}/restore", public = false }
  }

  # Every API Gateway resource (path) the routes need, including intermediate
  # ones, e.g. "/documents/{id}/archive" also needs "/documents" and
  # "/documents/{id}". Derived from the route table, never listed by hand.
  route_path_segments = distinct(flatten([
    for r in values(local.routes) : [
      for i in range(1, length(split("/", trimprefix(r.path, "/"))) + 1) :
      join("/", slice(split("/", trimprefix(r.path, "/")), 0, i))
    ]
  ]))

  api_resources = {
    for p in local.route_path_segments : "/${p}" => {
      depth     = length(split("/", p))
      path_part = element(split("/", p), length(split("/", p)) - 1)
      parent    = length(split("/", p)) == 1 ? "/" : "/${join("/", slice(split("/", p), 0, length(split("/", p)) - 1))}"
    }
  }

  # Path parameters a route declares, e.g. {id} => method.request.path.id.
  route_path_parameters = {
    for k, r in local.routes : k => {
      for seg in split("/", r.path) : "method.request.path.${trim(seg, "{}")}" => true
      if startswith(seg, "{") && endswith(seg, "}")
    }
  }
}
