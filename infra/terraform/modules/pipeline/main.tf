# CodePipeline: source → CodeBuild "test" (the unit tests) → CodeBuild "staging" (gpcast
# pipeline run) → manual approval (SNS) → CodeBuild "production" (gpcast approve). The buildspecs live in the repository
# (infra/buildspecs) and only call gpcast commands.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_codestarconnections_connection" "github" {
  name          = "${var.name}-github"
  provider_type = "GitHub"
}

resource "aws_kms_key" "pipeline" {
  description             = "${var.name} pipeline artifacts and build logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:key policy: "*" is this key; the account root administers it as AWS requires
  #checkov:skip=CKV_AWS_111:key policy: "*" is this key
  #checkov:skip=CKV_AWS_356:key policy: "*" is this key
  statement {
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

module "artifacts" {
  source        = "../storage"
  name          = "${var.name}-pipeline-${data.aws_caller_identity.current.account_id}"
  force_destroy = true
  log_bucket    = var.log_bucket
  tags          = var.tags
}

# --- CodeBuild ------------------------------------------------------------------------

data "aws_iam_policy_document" "codebuild_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codebuild.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "codebuild" {
  name               = "${var.name}-codebuild"
  assume_role_policy = data.aws_iam_policy_document.codebuild_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "codebuild_release" {
  name   = "release"
  role   = aws_iam_role.codebuild.id
  policy = data.aws_iam_policy_document.release.json
}

data "aws_iam_policy_document" "codebuild_run" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/codebuild/${var.name}-*"]
  }
  statement {
    sid       = "PipelineArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:GetBucketLocation"]
    resources = [module.artifacts.arn, "${module.artifacts.arn}/*"]
  }
  statement {
    sid       = "ArtifactKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = [aws_kms_key.pipeline.arn, module.artifacts.kms_key_arn]
  }
  statement {
    sid       = "WhoApproved"
    actions   = ["codepipeline:GetPipelineState"]
    resources = ["arn:aws:codepipeline:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.name}"]
  }
}

resource "aws_iam_role_policy" "codebuild_run" {
  name   = "run"
  role   = aws_iam_role.codebuild.id
  policy = data.aws_iam_policy_document.codebuild_run.json
}

resource "aws_codebuild_project" "stage" {
  #checkov:skip=CKV_AWS_316:privileged mode runs the Docker engine that builds and pushes the serving image
  for_each       = { staging = "infra/buildspecs/staging.yml", production = "infra/buildspecs/production.yml" }
  name           = "${var.name}-${each.key}"
  description    = "gpcast release: ${each.key}"
  service_role   = aws_iam_role.codebuild.arn
  build_timeout  = 60
  encryption_key = aws_kms_key.pipeline.arn
  tags           = var.tags

  artifacts {
    type = "CODEPIPELINE"
  }

  environment {
    compute_type    = "BUILD_GENERAL1_MEDIUM"
    image           = "aws/codebuild/standard:7.0"
    type            = "LINUX_CONTAINER"
    privileged_mode = true

    dynamic "environment_variable" {
      for_each = merge(var.gpcast_environment, { PIPELINE_NAME = var.name })
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }

    dynamic "environment_variable" {
      for_each = var.gpcast_secrets
      content {
        name  = environment_variable.key
        value = environment_variable.value
        type  = "PARAMETER_STORE"
      }
    }
  }

  logs_config {
    cloudwatch_logs {
      group_name = "/aws/codebuild/${var.name}-${each.key}"
    }
  }

  source {
    type      = "CODEPIPELINE"
    buildspec = each.value
  }
}

# The unit tests run in a project of their own: no release permissions, no Docker.
resource "aws_iam_role" "codebuild_test" {
  name               = "${var.name}-codebuild-test"
  assume_role_policy = data.aws_iam_policy_document.codebuild_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "codebuild_test" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/codebuild/${var.name}-test*"]
  }
  statement {
    sid       = "PipelineArtifacts"
    actions   = ["s3:GetObject", "s3:GetBucketLocation"]
    resources = [module.artifacts.arn, "${module.artifacts.arn}/*"]
  }
  statement {
    sid       = "ArtifactKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = [aws_kms_key.pipeline.arn, module.artifacts.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "codebuild_test" {
  name   = "test"
  role   = aws_iam_role.codebuild_test.id
  policy = data.aws_iam_policy_document.codebuild_test.json
}

resource "aws_codebuild_project" "test" {
  name           = "${var.name}-test"
  description    = "gpcast release: the unit tests gate everything after them"
  service_role   = aws_iam_role.codebuild_test.arn
  build_timeout  = 30
  encryption_key = aws_kms_key.pipeline.arn
  tags           = var.tags

  artifacts {
    type = "CODEPIPELINE"
  }

  environment {
    compute_type = "BUILD_GENERAL1_MEDIUM"
    image        = "aws/codebuild/standard:7.0"
    type         = "LINUX_CONTAINER"
  }

  logs_config {
    cloudwatch_logs {
      group_name = "/aws/codebuild/${var.name}-test"
    }
  }

  source {
    type      = "CODEPIPELINE"
    buildspec = "infra/buildspecs/test.yml"
  }
}

# --- CodePipeline ---------------------------------------------------------------------

data "aws_iam_policy_document" "pipeline_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codepipeline.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = "${var.name}-codepipeline"
  assume_role_policy = data.aws_iam_policy_document.pipeline_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning"]
    resources = [module.artifacts.arn, "${module.artifacts.arn}/*"]
  }
  statement {
    sid       = "ArtifactKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = [aws_kms_key.pipeline.arn, module.artifacts.kms_key_arn]
  }
  statement {
    sid       = "Source"
    actions   = ["codestar-connections:UseConnection", "codeconnections:UseConnection"]
    resources = [aws_codestarconnections_connection.github.arn]
  }
  statement {
    sid       = "Builds"
    actions   = ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]
    resources = concat([for p in aws_codebuild_project.stage : p.arn], [aws_codebuild_project.test.arn])
  }
  statement {
    sid       = "ApprovalRequest"
    actions   = ["sns:Publish"]
    resources = [var.approval_topic_arn]
  }
  statement {
    sid       = "ApprovalTopicKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.topic_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "pipeline"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
}

resource "aws_codepipeline" "this" {
  name          = var.name
  role_arn      = aws_iam_role.pipeline.arn
  pipeline_type = "V2"
  tags          = var.tags

  artifact_store {
    type     = "S3"
    location = module.artifacts.bucket
    encryption_key {
      id   = aws_kms_key.pipeline.arn
      type = "KMS"
    }
  }

  stage {
    name = "Source"
    action {
      name             = "Source"
      category         = "Source"
      owner            = "AWS"
      provider         = "CodeStarSourceConnection"
      version          = "1"
      output_artifacts = ["source"]
      configuration = {
        ConnectionArn    = aws_codestarconnections_connection.github.arn
        FullRepositoryId = var.repository
        BranchName       = var.branch
      }
    }
  }

  stage {
    name = "Test"
    action {
      name            = "UnitTests"
      category        = "Test"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["source"]
      configuration = {
        ProjectName = aws_codebuild_project.test.name
      }
    }
  }

  stage {
    name = "Staging"
    action {
      name            = "PipelineRun"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      namespace       = "Staging"
      input_artifacts = ["source"]
      configuration = {
        ProjectName = aws_codebuild_project.stage["staging"].name
      }
    }
  }

  stage {
    name = "Approval"
    action {
      name     = "Approve"
      category = "Approval"
      owner    = "AWS"
      provider = "Manual"
      version  = "1"
      configuration = {
        NotificationArn = var.approval_topic_arn
        CustomData      = "gpcast version #{Staging.MODEL_VERSION} passed its gates and staging acceptance; its model card and metrics are in MLflow. Approving promotes the same image digest to production."
      }
    }
  }

  stage {
    name = "Production"
    action {
      name            = "Promote"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["source"]
      configuration = {
        ProjectName = aws_codebuild_project.stage["production"].name
        EnvironmentVariables = jsonencode([
          { name = "MODEL_VERSION", value = "#{Staging.MODEL_VERSION}", type = "PLAINTEXT" },
        ])
      }
    }
  }
}

# Failures reach the same topic as the approval requests: a failed execution (a failed
# test, gate, staging deployment or promotion) and a rejected approval.
resource "aws_codestarnotifications_notification_rule" "failures" {
  name        = "${var.name}-failures"
  resource    = aws_codepipeline.this.arn
  detail_type = "FULL"
  event_type_ids = [
    "codepipeline-pipeline-pipeline-execution-failed",
    "codepipeline-pipeline-manual-approval-failed",
  ]
  tags = var.tags

  target {
    type    = "SNS"
    address = var.approval_topic_arn
  }
}
