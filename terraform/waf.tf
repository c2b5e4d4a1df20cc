################################################################################
# WAF: associate a caller-owned REGIONAL web ACL with the stage.
################################################################################

resource "aws_wafv2_web_acl_association" "this" {
  count = var.enable_waf ? 1 : 0

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}
