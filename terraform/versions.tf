terraform {
  # 1.9 is the first release with cross-variable validation blocks, which this
  # module relies on to reject wrong input combinations with a clear message.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
}
