# GitHub Actions reach AWS through OIDC: short-lived credentials for one repository's
# workflows, no stored keys. Release jobs must run in the repository's `staging` or
# `production` GitHub Environment; the monitor job on the default branch.
resource "aws_iam_openid_connect_provider" "github" {
  count           = var.create_provider ? 1 : 0
  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
  tags            = var.tags
}

data "aws_caller_identity" "current" {}

locals {
  provider_arn = var.create_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:aws:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/token.actions.githubusercontent.com"
}

data "aws_iam_policy_document" "trust" {
  for_each = {
    release = [for env in ["staging", "production"] : "repo:${var.repository}:environment:${env}"]
    monitor = ["repo:${var.repository}:ref:refs/heads/${var.branch}"]
  }
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "this" {
  for_each             = data.aws_iam_policy_document.trust
  name                 = "${var.name_prefix}-github-${each.key}"
  assume_role_policy   = each.value.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "release" {
  name   = "release"
  role   = aws_iam_role.this["release"].id
  policy = var.release_policy_json
}

resource "aws_iam_role_policy" "monitor" {
  name   = "monitor"
  role   = aws_iam_role.this["monitor"].id
  policy = var.monitor_policy_json
}
