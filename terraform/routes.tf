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
  # The module itself owns the web interface's routes (behind enable_web_ui) and
  # the CORS preflights (behind cors_allowed_origins), so entries of routes.json
  # under /ui or with method OPTIONS are left to the blocks below.
  router_routes = {
    for r in jsondecode(file("${path.module}/routes.json")) :
    "${r.method} ${r.path}" => { method = r.method, path = r.path, public = !r.auth }
    if r.method != "OPTIONS" && r.path != "/ui" && !startswith(r.path, "/ui/")
  }

  # The web interface (enable_web_ui): its assets and its ui/config.json are open,
  # so no authorizer; the API calls the interface makes go through the authorizer
  # like any client's. API Gateway cannot express the router's wildcard, so the
  # greedy {proxy+} resource stands for every path under /ui/.
  web_ui_routes = var.enable_web_ui ? {
    "GET /ui"          = { method = "GET", path = "/ui", public = true }
    "GET /ui/{proxy+}" = { method = "GET", path = "/ui/{proxy+}", public = true }
  } : {}

  # Every route of the API: the router's and the web interface's.
  routes = merge(local.router_routes, local.web_ui_routes)

  # Every API Gateway resource (path) the routes need, including intermediate
  # ones, e.g. "/documents/{id}/archive" also needs "/documents" and
  # "/documents/{id}". Derived from the route table, never listed by hand.
  # A route on "/" itself uses the API's root resource (see api_resource_ids).
  route_path_segments = distinct(flatten([
    for r in values(local.routes) : [
      for i in range(1, length(split("/", trimprefix(r.path, "/"))) + 1) :
      join("/", slice(split("/", trimprefix(r.path, "/")), 0, i))
    ] if r.path != "/"
  ]))

  api_resources = {
    for p in local.route_path_segments : "/${p}" => {
      depth     = length(split("/", p))
      path_part = element(split("/", p), length(split("/", p)) - 1)
      parent    = length(split("/", p)) == 1 ? "/" : "/${join("/", slice(split("/", p), 0, length(split("/", p)) - 1))}"
    }
  }

  # Path parameters a route declares, e.g. {id} => method.request.path.id and
  # {proxy+} => method.request.path.proxy.
  route_path_parameters = {
    for k, r in local.routes : k => {
      for seg in split("/", r.path) : "method.request.path.${trimsuffix(trim(seg, "{}"), "+")}" => true
      if startswith(seg, "{") && endswith(seg, "}")
    }
  }

  # CORS preflights (cors_allowed_origins): an OPTIONS method on every resource,
  # open (a browser sends no Authorization header with a preflight) and proxied
  # to the api function, whose router answers it from KUMOCMS_CORS_ALLOWED_ORIGINS.
  cors_enabled    = length(var.cors_allowed_origins) > 0
  preflight_paths = local.cors_enabled ? distinct([for r in values(local.routes) : r.path]) : []
  preflight_path_parameters = {
    for p in local.preflight_paths : p => {
      for seg in split("/", p) : "method.request.path.${trimsuffix(trim(seg, "{}"), "+")}" => true
      if startswith(seg, "{") && endswith(seg, "}")
    }
  }
}
