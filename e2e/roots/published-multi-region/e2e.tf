# Test-only: the moto server the provider talks to (scripts/test-e2e.sh).
variable "moto_endpoint" {
  description = "moto server URL, e.g. http://127.0.0.1:5000"
  type        = string
}

# Test-only: API Gateway calls go through e2e/apigw_shim.py (moto returns a REST
# API's policy unescaped, which the provider cannot read back).
variable "apigateway_endpoint" {
  description = "URL of the API Gateway pass-through in front of moto"
  type        = string
}
