# The one bucket that holds every environment's Terraform state (versioned, encrypted,
# private). Applied once, with local state, before envs/staging and envs/production.
provider "aws" {
  region = var.region
  default_tags {
    tags = { project = "gpcast", env = "bootstrap" }
  }
}

data "aws_caller_identity" "current" {}

module "state" {
  source          = "../../modules/storage"
  name            = "${var.name_prefix}-tfstate-${data.aws_caller_identity.current.account_id}"
  noncurrent_days = 365
}
