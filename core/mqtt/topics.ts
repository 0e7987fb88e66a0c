/**
 * The topic tree, under a versioned root, per facility and box:
 * <root>/v1/<facility>/<box>/state (retained; "offline" as last will), /health (retained,
 * periodic), /dev/<id>/state (retained), /stream/<stream> (uplinked items), /ack (from the
 * central ingest), and domain topics such as /queue/<service>/snapshot.
 */
export function boxTopic(root: string, facility: string, box: string, ...rest: string[]): string {
  return [root, 'v1', facility, box, ...rest].join('/');
}
