terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
  }
}

# Remote state in S3 with S3-native locking (a .tflock object; Terraform >= 1.10). The
# bucket comes from envs/bootstrap: terraform init -backend-config="bucket=<state bucket>"
# -backend-config="region=<region>".
terraform {
  backend "s3" {
    key          = "gpcast/staging.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
