/** The Node.js major that AWS SDK releases after the first week of January 2027 require. */
const SDK_NODE_MAJOR_FROM_2027 = 22;

/**
 * agentgate supports Node 20 until the AWS SDK for JavaScript drops it (README, "Node.js
 * versions"). On Node 20 the SDK prints a nine-line NodeVersionSupportWarning when the first
 * client of a process is created, which is during a user's first chat. This sets the SDK's
 * documented switch, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true, unless the
 * environment sets it already (false brings the SDK's warning back), and returns the same
 * fact in one line for the start-up log. Undefined, and nothing set, on Node 22 and newer.
 */
export function replaceSdkNodeWarning(
  version: string = process.version,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (!(major < SDK_NODE_MAJOR_FROM_2027)) return undefined;
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return `Node.js ${version}: AWS SDK releases after the first week of January 2027 need Node.js ${SDK_NODE_MAJOR_FROM_2027} or newer; agentgate supports Node 20 until then`;
}
