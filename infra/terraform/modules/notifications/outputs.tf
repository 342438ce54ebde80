output "topic_arn" {
  description = "Topic ARN (GPCAST_SNS_TOPIC_ARN)."
  value       = aws_sns_topic.this.arn
}

output "kms_key_arn" {
  description = "KMS key of the topic: publishers need kms:GenerateDataKey and kms:Decrypt on it."
  value       = aws_kms_key.topic.arn
}
