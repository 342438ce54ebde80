# Staging: the data and release-state buckets, the team's database (MLflow backend store,
# ledgers, capture store), the staging ECR repository (where new images are pushed) and the
# staging Lightsail container service.
provider "aws" {
  region = var.region
  default_tags {
    tags = { project = "gpcast", env = "staging" }
  }
}

data "aws_caller_identity" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
}

module "data" {
  source        = "../../modules/storage"
  name          = "${var.name_prefix}-data-${local.account}"
  force_destroy = var.force_destroy
}

module "state" {
  source        = "../../modules/storage"
  name          = "${var.name_prefix}-release-${local.account}"
  force_destroy = var.force_destroy
}

module "service" {
  source = "../../modules/container_service"
  name   = "${var.name_prefix}-staging"
  power  = var.power
  scale  = var.scale
}

module "registry" {
  source              = "../../modules/registry"
  name                = "${var.name_prefix}-staging"
  force_delete        = var.force_destroy
  pull_principal_arns = [module.service.ecr_puller_principal_arn]
}

module "database" {
  source      = "../../modules/database"
  name        = "${var.name_prefix}-db"
  bundle      = var.database_bundle
  kms_key_arn = module.state.kms_key_arn
}

# The serving containers run on Lightsail, which gives a container no IAM role: this user
# may only read the monitoring reports (GPCAST_REPORTS_URI) that /v1/monitoring serves.
module "reports_reader" {
  source     = "../../modules/reports_reader"
  name       = "${var.name_prefix}-reports-reader"
  bucket_arn = module.state.arn
  prefix     = "reports/"
  kms_arns   = [module.state.kms_key_arn]
}
