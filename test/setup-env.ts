// Tests never reach the EC2 instance-metadata address: the credential chain's last
// providers must fail at once instead of probing the link-local network.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
