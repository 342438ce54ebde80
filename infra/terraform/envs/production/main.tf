# Production: its ECR repository and Lightsail service, and what spans both environments:
# the approval topic, CodePipeline, the monitor schedule and the GitHub OIDC roles. Reads
# the staging outputs from its remote state (apply envs/staging first).
provider "aws" {
  region = var.region
  default_tags {
    tags = { project = "gpcast", env = "production" }
  }
}

data "terraform_remote_state" "staging" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "gpcast/staging.tfstate"
    region = var.region
  }
}

locals {
  staging = data.terraform_remote_state.staging.outputs
  gpcast_environment = {
    GPCAST_DEPLOY_TARGET      = "lightsail"
    GPCAST_AWS_REGION         = var.region
    GPCAST_DATA_URI           = "s3://${local.staging.data_bucket}/${var.data_key}"
    GPCAST_ECR_REPOSITORIES   = jsonencode({ staging = local.staging.repository, production = module.registry.name })
    GPCAST_LIGHTSAIL_SERVICES = jsonencode({ staging = local.staging.service, production = module.service.name })
    GPCAST_APPROVERS          = jsonencode(var.approvers)
    GPCAST_HOME               = "/tmp/gpcast-home" # fixed absolute path: MLflow records artifact paths
    GPCAST_SNS_TOPIC_ARN      = module.approval.topic_arn
    GPCAST_MLFLOW_UI_URL      = var.mlflow_ui_url
    GPCAST_ARTIFACT_URI       = "s3://${local.staging.state_bucket}/mlartifacts"
    GPCAST_REPORTS_URI        = "s3://${local.staging.state_bucket}/reports/monitor"
    STATE_URI                 = "s3://${local.staging.state_bucket}"
    # read from SSM by infra/tools/container-env and the workflows
    GPCAST_DATABASE_PARAMETER       = local.staging.database_url_parameter
    GPCAST_REPORTS_READER_PARAMETER = "/${var.name_prefix}-reports-reader"
  }
  # One PostgreSQL for the MLflow backend store and the ledgers (and, through the container
  # environment, the capture store); its URL never leaves SSM except into a job's memory.
  gpcast_secrets = {
    GPCAST_DATABASE_URL = local.staging.database_url_parameter
    GPCAST_TRACKING_URI = local.staging.database_url_parameter
  }
}

module "service" {
  source = "../../modules/container_service"
  name   = "${var.name_prefix}-production"
  power  = var.power
  scale  = var.scale
}

module "registry" {
  source              = "../../modules/registry"
  name                = "${var.name_prefix}-production"
  force_delete        = var.force_destroy
  pull_principal_arns = [module.service.ecr_puller_principal_arn]
}

module "approval" {
  source = "../../modules/notifications"
  name   = "${var.name_prefix}-approval"
  emails = var.approval_emails
}

module "pipeline" {
  source                 = "../../modules/pipeline"
  name                   = "${var.name_prefix}-release"
  repository             = var.github_repository
  branch                 = var.branch
  approval_topic_arn     = module.approval.topic_arn
  topic_kms_key_arn      = module.approval.kms_key_arn
  data_bucket_arn        = local.staging.data_bucket_arn
  state_bucket_arn       = local.staging.state_bucket_arn
  kms_key_arns           = local.staging.kms_key_arns
  repository_arns        = [local.staging.repository_arn, module.registry.arn]
  container_service_arns = [local.staging.service_arn, module.service.arn]
  gpcast_environment     = local.gpcast_environment
  gpcast_secrets         = local.gpcast_secrets
  database_parameter_arn = local.staging.database_url_parameter_arn
  secret_parameter_arns  = local.staging.reports_reader_parameter_arns
}

module "monitor" {
  source              = "../../modules/schedule"
  name                = "${var.name_prefix}-monitor"
  schedule_expression = var.monitor_schedule
  repository          = var.github_repository
  branch              = var.branch
  connection_arn      = module.pipeline.connection_arn
  kms_key_arn         = module.pipeline.kms_key_arn
  monitor_policy_json = module.pipeline.monitor_policy_json
  gpcast_environment  = local.gpcast_environment
  gpcast_secrets      = local.gpcast_secrets
}

module "github" {
  source              = "../../modules/github_oidc"
  name_prefix         = var.name_prefix
  repository          = var.github_repository
  branch              = var.branch
  create_provider     = var.create_github_oidc_provider
  release_policy_json = module.pipeline.release_policy_json
  monitor_policy_json = module.pipeline.monitor_policy_json
}
