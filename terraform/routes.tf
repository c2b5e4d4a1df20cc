################################################################################
# The API route table, read from routes.json (generated from the Rust router).
#
# Every route is an AWS_PROXY integration to the `api` function. Keys are
# "METHOD /path"; `public = true` routes have no authorizer. The e2e suite also
# compares the deployed API (output `api_routes`) with the Rust router's listing,
# and the stage is redeployed whenever it changes (see aws_api_gateway_deployment).
################################################################################

locals {
  # routes.json is what `kumocms routes --json` prints: the Rust router is the one
  # source of the route table; a test (crates/kumocms-api/tests/routes_file.rs) fails
  # when the file and the router differ. Regenerate it with
  #   cargo run -q -p kumocms-cli -- routes --json > terraform/routes.json
  routes = {
    for r in jsondecode(file("${path.module}/routes.json")) :
    "${r.method} ${r.path}" => { method = r.method, path = r.path, public = !r.auth }
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
