"""CDK v2 app for the order service: ``npx cdk synth`` / ``npx cdk deploy -c stage=dev|prod``."""
