# EventBridge Scheduler starts a CodeBuild project that runs `gpcast monitor` on a schedule.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

data "aws_iam_policy_document" "codebuild_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codebuild.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitor" {
  name               = "${var.name}-codebuild"
  assume_role_policy = data.aws_iam_policy_document.codebuild_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "monitor" {
  name   = "monitor"
  role   = aws_iam_role.monitor.id
  policy = var.monitor_policy_json
}

data "aws_iam_policy_document" "monitor_run" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/codebuild/${var.name}*"]
  }
  statement {
    sid       = "Source"
    actions   = ["codestar-connections:UseConnection", "codeconnections:UseConnection", "codestar-connections:GetConnectionToken", "codeconnections:GetConnectionToken"]
    resources = [var.connection_arn]
  }
  statement {
    sid       = "BuildKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "monitor_run" {
  name   = "run"
  role   = aws_iam_role.monitor.id
  policy = data.aws_iam_policy_document.monitor_run.json
}

resource "aws_codebuild_project" "monitor" {
  name           = var.name
  description    = "gpcast monitor on a schedule"
  service_role   = aws_iam_role.monitor.arn
  build_timeout  = 30
  encryption_key = var.kms_key_arn
  tags           = var.tags

  artifacts {
    type = "NO_ARTIFACTS"
  }

  environment {
    compute_type = "BUILD_GENERAL1_SMALL"
    image        = "aws/codebuild/standard:7.0"
    type         = "LINUX_CONTAINER"

    dynamic "environment_variable" {
      for_each = var.gpcast_environment
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
      group_name = "/aws/codebuild/${var.name}"
    }
  }

  source {
    type      = "GITHUB"
    location  = "https://github.com/${var.repository}.git"
    buildspec = "infra/buildspecs/monitor.yml"
    auth {
      type     = "CODECONNECTIONS"
      resource = var.connection_arn
    }
  }
  source_version = var.branch
}

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "start_build" {
  statement {
    actions   = ["codebuild:StartBuild"]
    resources = [aws_codebuild_project.monitor.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-monitor"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.start_build.json
}

resource "aws_scheduler_schedule" "monitor" {
  name                         = var.name
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 30
  }

  target {
    arn      = "arn:aws:scheduler:::aws-sdk:codebuild:startBuild"
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ ProjectName = aws_codebuild_project.monitor.name })
    retry_policy {
      maximum_retry_attempts = 2
    }
  }
}
