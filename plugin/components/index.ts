/** The plugin's components, for plugin/index.ts to re-export (NetworkedTransform imports @babylonjs/core). */
export { NetworkManagerComponent, type NetworkManagerComponentOptions, type ExtraManagerOptions, type DecodedMessage } from './network-manager-component';
export { jsonCodec, structCodec, type MessageCodec, type JsonCodecOptions, type StructCodec, type StructSchema, type StructFieldType, type StructValue } from './codecs';
export { NetworkedTransform, type NetworkedTransformOptions } from './networked-transform/networked-transform';
export { TransformRegistry, type TransformRegistryStats, type TransformTiming } from './networked-transform/transform-registry';
export { SnapshotInterpolator, type SnapshotInterpolatorOptions } from './networked-transform/snapshot-interpolator';
export { encodeTransformSnapshot, writeTransformSnapshot, decodeTransformSnapshot, type TransformSnapshot } from './networked-transform/snapshot-codec';
export type { Pose, Vec3, Quat } from './networked-transform/pose-math';
