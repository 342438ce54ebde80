# Read-only access to the monitoring reports for the serving containers. Lightsail
# container services cannot assume an IAM role, so they get the access key of a user that
# can do nothing but read objects under one prefix of one bucket. The key is kept in SSM
# SecureString parameters; the release job passes it into the container's environment.
data "aws_iam_policy_document" "read" {
  statement {
    sid       = "ReadReports"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/${var.prefix}*"]
  }
  statement {
    sid       = "ListReports"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefix}*"]
    }
  }
  statement {
    sid       = "DecryptReports"
    actions   = ["kms:Decrypt"]
    resources = var.kms_arns
  }
}

resource "aws_iam_group" "this" {
  name = var.name
}

resource "aws_iam_group_policy" "this" {
  name   = "read-reports"
  group  = aws_iam_group.this.name
  policy = data.aws_iam_policy_document.read.json
}

resource "aws_iam_user" "this" {
  #checkov:skip=CKV_AWS_273:Lightsail containers cannot assume roles or use SSO; this user only reads one S3 prefix
  name = var.name
  tags = var.tags
}

resource "aws_iam_user_group_membership" "this" {
  user   = aws_iam_user.this.name
  groups = [aws_iam_group.this.name]
}

resource "aws_iam_access_key" "this" {
  user = aws_iam_user.this.name
}

resource "aws_ssm_parameter" "key" {
  for_each = {
    "access-key-id"     = aws_iam_access_key.this.id
    "secret-access-key" = aws_iam_access_key.this.secret
  }
  name   = "/${var.name}/${each.key}"
  type   = "SecureString"
  key_id = var.kms_arns[0]
  value  = each.value
  tags   = var.tags
}
