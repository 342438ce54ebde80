# What a release run may do, for CodeBuild and for GitHub Actions alike: read the data,
# read and write the release state and artifacts, push to the staging repository, copy
# into the production repository, deploy the two Lightsail services, publish to the
# release topic, read the database URL and the reports reader's key from SSM. Nothing else.
data "aws_iam_policy_document" "release" {
  #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken and lightsail:GetContainerServices accept no resource but "*"
  #checkov:skip=CKV_AWS_111:the only "*" resources are the two actions above, which have no resource type
  statement {
    sid       = "ReadData"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [var.data_bucket_arn, "${var.data_bucket_arn}/*"]
  }
  statement {
    sid       = "ReleaseState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = [var.state_bucket_arn, "${var.state_bucket_arn}/*"]
  }
  statement {
    sid       = "BucketKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = var.kms_key_arns
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "EcrImages"
    actions = [
      "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:BatchGetImage",
      "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:PutImage",
      "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
    ]
    resources = var.repository_arns
  }
  statement {
    sid       = "LightsailRead"
    actions   = ["lightsail:GetContainerServices", "lightsail:GetContainerServiceDeployments", "lightsail:GetContainerLog"]
    resources = ["*"]
  }
  statement {
    sid       = "LightsailDeploy"
    actions   = ["lightsail:CreateContainerServiceDeployment", "lightsail:UpdateContainerService"]
    resources = var.container_service_arns
  }
  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [var.approval_topic_arn]
  }
  statement {
    sid       = "NotifyKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.topic_kms_key_arn]
  }
  statement {
    sid       = "Secrets"
    actions   = ["ssm:GetParameters", "ssm:GetParameter"]
    resources = concat([var.database_parameter_arn], var.secret_parameter_arns)
  }
}

data "aws_iam_policy_document" "monitor" {
  statement {
    sid       = "ReadData"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [var.data_bucket_arn, "${var.data_bucket_arn}/*"]
  }
  statement {
    sid       = "ReleaseState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
    resources = [var.state_bucket_arn, "${var.state_bucket_arn}/*"]
  }
  statement {
    sid       = "BucketKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = var.kms_key_arns
  }
  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [var.approval_topic_arn]
  }
  statement {
    sid       = "NotifyKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.topic_kms_key_arn]
  }
  statement {
    sid       = "Database"
    actions   = ["ssm:GetParameters", "ssm:GetParameter"]
    resources = [var.database_parameter_arn]
  }
}
