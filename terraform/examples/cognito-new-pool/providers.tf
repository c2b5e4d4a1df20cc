# Kept apart from main.tf so that a test harness can replace the provider
# configuration (for example with a providers_override.tf pointing the
# endpoints at an AWS emulator) without touching the example itself.
provider "aws" {
  region = var.aws_region
}
