import {
  createCredentialChain,
  fromContainerMetadata,
  fromIni,
  fromInstanceMetadata,
  fromTokenFile,
} from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export interface CredentialSettings {
  readonly profile: string | undefined;
  readonly staticCredentials: AwsCredentialIdentity | undefined;
  readonly imdsDisabled: boolean;
}

/**
 * The precedence docs/configuration.md gives: environment keys, then AWS_PROFILE (credentials
 * file, config file, SSO, credential_process — fromIni resolves all four), then the default
 * profile, then web identity, the container role and the instance role. The SDK's own
 * default chain prefers AWS_PROFILE over environment keys when both are set, hence this
 * explicit chain.
 * Clients memoise what it returns, so it runs once per client until the credentials expire.
 */
export function createCredentials(settings: CredentialSettings): AwsCredentialIdentityProvider {
  const links: AwsCredentialIdentityProvider[] = [];
  const fixed = settings.staticCredentials;
  if (fixed) links.push(async () => fixed);
  links.push(fromIni(settings.profile ? { profile: settings.profile } : {}));
  links.push(fromTokenFile());
  links.push(fromContainerMetadata());
  if (!settings.imdsDisabled) links.push(fromInstanceMetadata());
  return createCredentialChain(...links);
}
