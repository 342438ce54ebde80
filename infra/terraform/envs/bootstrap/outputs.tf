output "state_bucket" {
  description = "Pass to `terraform init -backend-config=bucket=...` in envs/staging and envs/production."
  value       = module.state.bucket
}
