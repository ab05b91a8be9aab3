import { expect } from 'chai';
import fc from 'fast-check';
import { angleBetween, distance, normalizeQuat, slerp, type Pose, type Quat, type Vec3 } from '../../plugin/components/networked-transform/pose-math';
import {
  dequantizePosition,
  packRotation,
  POSITION_LIMIT,
  POSITION_MAX_ERROR,
  quantizePosition,
  ROTATION_MAX_ERROR_RAD,
  unpackRotation,
  zigzagDecode,
  zigzagEncode,
} from '../../plugin/components/networked-transform/quantize';
import { decodeTransformSnapshot, encodeTransformSnapshot, TRANSFORM_SNAPSHOT_MAX_BYTES } from '../../plugin/components/networked-transform/snapshot-codec';
import { SnapshotInterpolator, wrapDiff } from '../../plugin/components/networked-transform/snapshot-interpolator';
import { mulberry32 } from '../../plugin/net/transport/prng';

const quatArb = fc
  .tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }))
  .filter((q) => Math.hypot(...q) > 1e-3)
  .map((q) => normalizeQuat(q));

describe('NetworkedTransform math', () => {
  describe('quantization', () => {
    it('position error is at most half a millimetre-step inside the documented range', () => {
      fc.assert(fc.property(fc.double({ min: -POSITION_LIMIT, max: POSITION_LIMIT, noNaN: true }), (v) => {
        const back = dequantizePosition(quantizePosition(v));
        expect(Math.abs(back - v)).to.be.at.most(POSITION_MAX_ERROR + Math.abs(v) * 1e-12);
      }), { seed: 1, numRuns: 2000 });
    });

    it('positions outside the range are clamped, NaN becomes 0', () => {
      expect(dequantizePosition(quantizePosition(1e12))).to.be.closeTo(POSITION_LIMIT, 1e-6);
      expect(dequantizePosition(quantizePosition(-Infinity))).to.be.closeTo(-POSITION_LIMIT, 1e-6);
      expect(quantizePosition(Number.NaN)).to.equal(0);
    });

    it('zigzag maps int32 to uint32 and back', () => {
      expect([0, -1, 1, -2, 2].map(zigzagEncode)).to.deep.equal([0, 1, 2, 3, 4]);
      fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
        const z = zigzagEncode(n);
        expect(z).to.be.within(0, 0xffffffff);
        expect(zigzagDecode(z)).to.equal(n);
      }), { seed: 2, numRuns: 2000 });
    });

    it(`rotation error is at most ${ROTATION_MAX_ERROR_RAD} rad, for q and -q alike`, () => {
      fc.assert(fc.property(quatArb, (q) => {
        const packed = packRotation(q);
        expect(packed).to.be.within(0, 0xffffffff);
        expect(angleBetween(q, unpackRotation(packed))).to.be.at.most(ROTATION_MAX_ERROR_RAD);
        const negated: Quat = [-q[0], -q[1], -q[2], -q[3]];
        expect(angleBetween(q, unpackRotation(packRotation(negated)))).to.be.at.most(ROTATION_MAX_ERROR_RAD);
      }), { seed: 3, numRuns: 5000 });
    });

    it('any 32 bits unpack to a unit quaternion', () => {
      fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        expect(Math.hypot(...unpackRotation(bits))).to.be.closeTo(1, 1e-9);
      }), { seed: 4, numRuns: 2000 });
    });
  });

  describe('snapshot message', () => {
    it('round-trips within the quantization bounds and stays small', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.tuple(fc.double({ min: -1e5, max: 1e5, noNaN: true }), fc.double({ min: -1e5, max: 1e5, noNaN: true }), fc.double({ min: -1e5, max: 1e5, noNaN: true })),
          quatArb,
          (entityId, timeMs, position, rotation) => {
            const bytes = encodeTransformSnapshot({ entityId, timeMs, pose: { position, rotation } });
            expect(bytes.length).to.be.at.most(TRANSFORM_SNAPSHOT_MAX_BYTES);
            const decoded = decodeTransformSnapshot(bytes);
            if (!decoded.ok) throw new Error(decoded.error);
            expect(decoded.value.entityId).to.equal(entityId);
            expect(decoded.value.timeMs).to.equal(timeMs);
            for (let i = 0; i < 3; i++) expect(Math.abs(decoded.value.pose.position[i]! - position[i]!)).to.be.at.most(POSITION_MAX_ERROR + 1e-9);
            expect(angleBetween(decoded.value.pose.rotation, rotation)).to.be.at.most(ROTATION_MAX_ERROR_RAD);
          },
        ),
        { seed: 5, numRuns: 1000 },
      );
    });

    it('a typical snapshot (small entity id, coordinates within ±100) takes at most 20 bytes', () => {
      const bytes = encodeTransformSnapshot({ entityId: 3, timeMs: 123456, pose: { position: [12.5, -3.25, 99.999], rotation: [0, 0.7071, 0, 0.7071] } });
      expect(bytes.length).to.be.at.most(20);
      expect(bytes[0]).to.equal(0x54);
    });

    it('refuses truncated, trailing and foreign bytes with a reason; never throws on any bytes', () => {
      const bytes = encodeTransformSnapshot({ entityId: 1, timeMs: 5, pose: { position: [1, 2, 3], rotation: [0, 0, 0, 1] } });
      for (let cut = 0; cut < bytes.length; cut++) expect(decodeTransformSnapshot(bytes.subarray(0, cut)).ok, `cut at ${cut}`).to.equal(false);
      const trailing = decodeTransformSnapshot(new Uint8Array([...bytes, 0]));
      expect(trailing).to.deep.equal({ ok: false, error: 'snapshot: 1 unexpected trailing byte(s)' });
      expect(decodeTransformSnapshot(new Uint8Array([0x55, ...bytes.subarray(1)]))).to.deep.equal({ ok: false, error: 'snapshot kind: expected 0x54, got 0x55' });
      fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (random) => {
        expect(() => decodeTransformSnapshot(random)).to.not.throw();
      }), { seed: 6, numRuns: 2000 });
    });
  });

  describe('slerp', () => {
    it('takes the shorter arc and hits both ends', () => {
      const a: Quat = [0, 0, 0, 1];
      const b: Quat = normalizeQuat([0, Math.sin(Math.PI / 4), 0, Math.cos(Math.PI / 4)]); // 90° about y
      expect(angleBetween(slerp(a, b, 0), a)).to.be.below(1e-6);
      expect(angleBetween(slerp(a, b, 1), b)).to.be.below(1e-6);
      expect(angleBetween(slerp(a, b, 0.5), a)).to.be.closeTo(Math.PI / 4, 1e-6);
      const minusB: Quat = [-b[0], -b[1], -b[2], -b[3]];
      expect(angleBetween(slerp(a, minusB, 0.5), a)).to.be.closeTo(Math.PI / 4, 1e-6);
    });
  });

  describe('SnapshotInterpolator (virtual time)', () => {
    const SPEED = 2; // units per second along x
    const SEND_INTERVAL = 50;
    const FRAME = 16;
    const ownerPose = (t: number): Pose => ({ position: [(SPEED * t) / 1000, 0, 0], rotation: [0, 0, 0, 1] });

    /**
     * Simulates an owner sending every 50 ms and a replica rendering every 16 ms, with seeded loss
     * and latency jitter. Returns the replica's x per frame after the first pose.
     */
    function simulate(options: { lossRate: number; latencyMs: number; jitterMs: number; durationMs: number; seed: number }): { xs: number[]; times: number[]; interpolator: SnapshotInterpolator } {
      const random = mulberry32(options.seed);
      const interpolator = new SnapshotInterpolator({ delayMs: 100, snapAfterGapMs: 1000 });
      const inFlight: { arriveAt: number; time: number }[] = [];
      const xs: number[] = [];
      const times: number[] = [];
      for (let now = 0; now <= options.durationMs; now += FRAME) {
        // Owner sends on its schedule (its clock equals ours here; the interpolator must not care).
        for (let t = Math.ceil((now - FRAME + 1) / SEND_INTERVAL) * SEND_INTERVAL; t <= now; t += SEND_INTERVAL) {
          if (t < 0 || random() < options.lossRate) continue;
          inFlight.push({ arriveAt: t + options.latencyMs + random() * options.jitterMs, time: t });
        }
        inFlight.sort((a, b) => a.arriveAt - b.arriveAt);
        while (inFlight.length > 0 && inFlight[0]!.arriveAt <= now) {
          const packet = inFlight.shift()!;
          interpolator.push(packet.time + 7_000_000, ownerPose(packet.time), now); // owner clock has another origin
        }
        const pose = interpolator.sample(now);
        if (pose) {
          xs.push(pose.position[0]);
          times.push(now);
        }
      }
      return { xs, times, interpolator };
    }

    it('follows the owner about delay + latency behind', () => {
      const { xs, times } = simulate({ lossRate: 0, latencyMs: 30, jitterMs: 0, durationMs: 3000, seed: 1 });
      const last = xs.length - 1;
      const expected = (SPEED * (times[last]! - 30 - 100)) / 1000;
      expect(xs[last]).to.be.closeTo(expected, SPEED * 0.02);
    });

    it('moves smoothly under 10% loss and jitter: no frame step larger than the motion between two snapshots', () => {
      for (const seed of [42, 7, 99, 1234]) {
      const { xs, interpolator } = simulate({ lossRate: 0.1, latencyMs: 40, jitterMs: 30, durationMs: 6000, seed });
      const snapshotMotion = (SPEED * SEND_INTERVAL) / 1000;
      let maxStep = 0;
      for (let i = 1; i < xs.length; i++) {
        const step = xs[i]! - xs[i - 1]!;
        expect(step, `frame ${i} moved backwards`).to.be.at.least(-1e-9);
        maxStep = Math.max(maxStep, step);
      }
      expect(maxStep).to.be.at.most(snapshotMotion);
      expect(maxStep).to.be.at.most(((SPEED * FRAME) / 1000) * 1.25 + 1e-9); // playback speed varies by ≤ 25%
      expect(interpolator.snaps).to.equal(1); // only the first snapshot
      }
    });

    it('ignores snapshots older than or equal to the newest accepted', () => {
      const interpolator = new SnapshotInterpolator({ delayMs: 100, snapAfterGapMs: 1000 });
      expect(interpolator.push(1000, ownerPose(1000), 0)).to.equal('snapped');
      expect(interpolator.push(1050, ownerPose(1050), 50)).to.equal('accepted');
      expect(interpolator.push(1020, { position: [999, 0, 0], rotation: [0, 0, 0, 1] }, 60)).to.equal('stale');
      expect(interpolator.push(1050, ownerPose(1050), 60)).to.equal('stale');
      expect(interpolator.staleSnapshots).to.equal(2);
      for (let now = 60; now < 400; now += FRAME) expect(interpolator.sample(now)!.position[0]).to.be.below(10);
    });

    it('snaps to the next snapshot after a long gap instead of gliding across it', () => {
      const interpolator = new SnapshotInterpolator({ delayMs: 100, snapAfterGapMs: 1000 });
      let now = 0;
      for (let t = 0; t <= 500; t += 50, now += 50) {
        interpolator.push(t, ownerPose(t), now);
        interpolator.sample(now);
      }
      now += 3000; // silence
      const far: Pose = { position: [500, 0, 0], rotation: [0, 1, 0, 0] };
      expect(interpolator.push(3550, far, now)).to.equal('snapped');
      const shown = interpolator.sample(now)!;
      expect(shown.position).to.deep.equal(far.position);
      expect(interpolator.snaps).to.equal(2);
    });

    it('holds the last pose when snapshots stop (no extrapolation)', () => {
      const interpolator = new SnapshotInterpolator({ delayMs: 100, snapAfterGapMs: 1000 });
      for (let t = 0; t <= 500; t += 50) interpolator.push(t, ownerPose(t), t + 20);
      let pose: Pose | null = null;
      for (let now = 520; now < 900; now += FRAME) pose = interpolator.sample(now);
      expect(pose!.position[0]).to.be.closeTo((SPEED * 500) / 1000, 1e-9);
    });

    it('works across the uint32 wrap of the owner clock', () => {
      expect(wrapDiff(5, 0xfffffffb)).to.equal(10);
      expect(wrapDiff(0xfffffffb, 5)).to.equal(-10);
      const interpolator = new SnapshotInterpolator({ delayMs: 100, snapAfterGapMs: 1000 });
      const start = 0xffffffff - 120;
      const positions: Vec3[] = [];
      for (let i = 0; i <= 10; i++) {
        const outcome = interpolator.push((start + i * 50) >>> 0, ownerPose(i * 50), i * 50);
        expect(outcome).to.not.equal('stale');
        const pose = interpolator.sample(i * 50);
        if (pose) positions.push(pose.position);
      }
      for (let i = 1; i < positions.length; i++) expect(distance(positions[i]!, positions[i - 1]!)).to.be.below(0.2);
      expect(positions[positions.length - 1]![0]).to.be.above(0.5);
    });

    it('keeps at most `capacity` snapshots', () => {
      const interpolator = new SnapshotInterpolator({ delayMs: 100, snapAfterGapMs: 1000, capacity: 8 });
      for (let t = 0; t < 1000; t++) interpolator.push(t, ownerPose(t), t);
      expect(interpolator.size).to.equal(8);
    });
  });
});
