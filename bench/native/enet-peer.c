/*
 * Native ENet baseline for `npm run bench` (loss suite): Debian's libenet, compiled by the bench
 * with `cc` at bench time (bench/lib/native.ts), never committed as a binary.
 *
 * One ENet host bound to 127.0.0.1, serviced once a "frame" (every service_ms) the way a game
 * services ENet: queued sends first, then enet_host_service() with a zero timeout until it has no
 * more events. Driven by line commands on stdin, answers one JSON line per command on stdout:
 *
 *   server                      (argv)  accept one peer; measure what arrives
 *   client PORT                 (argv)  connect to 127.0.0.1:PORT (the impairment proxy)
 *   waitpeer                    -> {"connected":0|1}
 *   stream BYTES MAX_MS         -> {"ok":1}      reliable BYTES once a frame, for at most MAX_MS
 *   stopstream                  -> {"sent":N}
 *   bulk TOTAL MESSAGE          -> {"startedAtMs":T}   TOTAL bytes queued at once in MESSAGE-byte messages
 *   service MS                  -> {"ok":1}
 *   reset                       -> {"ok":1}
 *   results                     -> {"received":..,"receivedBytes":..,...,"latencyMs":[...]}
 *   quit
 *
 * Each message carries the sender's CLOCK_MONOTONIC send time (ms, f64 big-endian) and a u32
 * sequence number; latency is send call -> receive event, on the clock every process shares.
 * Bounded: at most MAX_SAMPLES latency samples, MAX_LIFETIME_S of life.
 */
#define _GNU_SOURCE
#include <enet/enet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000
#define MAX_LIFETIME_S 1200
#define MAX_MESSAGE_BYTES (1 << 20)

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void put_f64_be(uint8_t *out, double value) {
  uint64_t bits;
  memcpy(&bits, &value, 8);
  for (int i = 7; i >= 0; i--) { out[i] = (uint8_t)(bits & 0xff); bits >>= 8; }
}

static double get_f64_be(const uint8_t *in) {
  uint64_t bits = 0;
  for (int i = 0; i < 8; i++) bits = (bits << 8) | in[i];
  double value;
  memcpy(&value, &bits, 8);
  return value;
}

static void put_u32_be(uint8_t *out, uint32_t v) { out[0] = v >> 24; out[1] = v >> 16; out[2] = v >> 8; out[3] = v; }
static uint32_t get_u32_be(const uint8_t *in) { return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3]; }

static ENetHost *host;
static ENetPeer *peer;
static double service_ms = 1000.0 / 60.0;

/* Receiver counters. */
static double *latency;
static size_t latency_count;
static long long received, received_bytes, out_of_order, expected_seq = -1;
static double first_at, last_at;

/* Sender state. */
static long long sent;
static uint32_t next_seq;
static int streaming;
static size_t stream_bytes;
static double stream_until;

static void reset_counters(void) {
  latency_count = 0;
  received = received_bytes = out_of_order = 0;
  expected_seq = -1;
  first_at = last_at = 0;
  sent = 0;
}

static void send_reliable(size_t bytes) {
  if (peer == NULL) return;
  if (bytes < 12) bytes = 12;
  ENetPacket *packet = enet_packet_create(NULL, bytes, ENET_PACKET_FLAG_RELIABLE);
  if (packet == NULL) return;
  memset(packet->data, 0, bytes);
  put_f64_be(packet->data, monotonic_ms());
  put_u32_be(packet->data + 8, next_seq++);
  if (enet_peer_send(peer, 0, packet) != 0) {
    enet_packet_destroy(packet);
    return;
  }
  sent++;
}

static void on_receive(ENetPacket *packet) {
  double now = monotonic_ms();
  received++;
  received_bytes += (long long)packet->dataLength;
  if (first_at == 0) first_at = now;
  last_at = now;
  if (packet->dataLength >= 12) {
    if (latency_count < MAX_SAMPLES) latency[latency_count++] = now - get_f64_be(packet->data);
    long long seq = get_u32_be(packet->data + 8);
    if (expected_seq >= 0 && seq != expected_seq) out_of_order++;
    expected_seq = seq + 1;
  }
}

/* One frame: this frame's send, then everything ENet has for us. */
static void frame(void) {
  if (streaming) {
    if (monotonic_ms() > stream_until) streaming = 0;
    else send_reliable(stream_bytes);
  }
  ENetEvent event;
  while (enet_host_service(host, &event, 0) > 0) {
    switch (event.type) {
      case ENET_EVENT_TYPE_CONNECT:
        if (peer == NULL) peer = event.peer;
        break;
      case ENET_EVENT_TYPE_RECEIVE:
        on_receive(event.packet);
        enet_packet_destroy(event.packet);
        break;
      case ENET_EVENT_TYPE_DISCONNECT:
        if (event.peer == peer) peer = NULL;
        break;
      default:
        break;
    }
  }
  enet_host_flush(host);
}

static void print_results(void) {
  printf("{\"received\":%lld,\"receivedBytes\":%lld,\"firstAtMs\":%.3f,\"lastAtMs\":%.3f,\"outOfOrder\":%lld,\"sent\":%lld,\"latencyMs\":[",
         received, received_bytes, first_at, last_at, out_of_order, sent);
  for (size_t i = 0; i < latency_count; i++) printf(i == 0 ? "%.3f" : ",%.3f", latency[i]);
  printf("]}\n");
}

/* Returns 0 to quit. */
static int command(char *line) {
  char *verb = strtok(line, " \t\r\n");
  if (verb == NULL) return 1;
  if (strcmp(verb, "quit") == 0) return 0;
  if (strcmp(verb, "waitpeer") == 0) {
    printf("{\"connected\":%d}\n", peer != NULL && peer->state == ENET_PEER_STATE_CONNECTED);
  } else if (strcmp(verb, "stream") == 0) {
    char *bytes = strtok(NULL, " "), *max_ms = strtok(NULL, " ");
    stream_bytes = bytes ? (size_t)atol(bytes) : 32;
    if (stream_bytes > MAX_MESSAGE_BYTES) stream_bytes = MAX_MESSAGE_BYTES;
    stream_until = monotonic_ms() + (max_ms ? atof(max_ms) : 0);
    next_seq = 0;
    streaming = 1;
    printf("{\"ok\":1}\n");
  } else if (strcmp(verb, "stopstream") == 0) {
    streaming = 0;
    printf("{\"sent\":%lld}\n", sent);
  } else if (strcmp(verb, "bulk") == 0) {
    char *total_s = strtok(NULL, " "), *message_s = strtok(NULL, " ");
    long total = total_s ? atol(total_s) : 0;
    long message = message_s ? atol(message_s) : 16384;
    if (message < 12) message = 12;
    if (message > MAX_MESSAGE_BYTES) message = MAX_MESSAGE_BYTES;
    if (total > 256L * MAX_MESSAGE_BYTES) total = 256L * MAX_MESSAGE_BYTES;
    double started = monotonic_ms();
    next_seq = 0;
    for (long offset = 0; offset < total; offset += message) send_reliable((size_t)(total - offset < message ? total - offset : message));
    enet_host_flush(host);
    printf("{\"startedAtMs\":%.3f}\n", started);
  } else if (strcmp(verb, "service") == 0) {
    char *ms = strtok(NULL, " ");
    double value = ms ? atof(ms) : service_ms;
    service_ms = value < 0.1 ? 0.1 : value;
    printf("{\"ok\":1}\n");
  } else if (strcmp(verb, "reset") == 0) {
    reset_counters();
    printf("{\"ok\":1}\n");
  } else if (strcmp(verb, "results") == 0) {
    print_results();
  } else if (strcmp(verb, "sent") == 0) {
    printf("{\"sent\":%lld}\n", sent);
  } else {
    printf("{\"error\":\"unknown command %s\"}\n", verb);
  }
  fflush(stdout);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "client") == 0 && argc < 3)) {
    fprintf(stderr, "usage: enet-peer server | enet-peer client PORT\n");
    return 2;
  }
  if (enet_initialize() != 0) {
    fprintf(stderr, "enet_initialize failed\n");
    return 1;
  }
  latency = malloc(sizeof(double) * MAX_SAMPLES);
  if (latency == NULL) return 1;
  ENetAddress local;
  enet_address_set_host_ip(&local, "127.0.0.1");
  local.port = 0;
  host = enet_host_create(&local, 4, 2, 0, 0);
  if (host == NULL) {
    fprintf(stderr, "enet_host_create failed\n");
    return 1;
  }
  if (strcmp(argv[1], "client") == 0) {
    ENetAddress remote;
    enet_address_set_host_ip(&remote, "127.0.0.1");
    remote.port = (enet_uint16)atoi(argv[2]);
    peer = enet_host_connect(host, &remote, 2, 0);
    if (peer == NULL) {
      fprintf(stderr, "enet_host_connect failed\n");
      return 1;
    }
  }
  ENetAddress bound;
  enet_socket_get_address(host->socket, &bound);
  printf("{\"port\":%u}\n", bound.port);
  fflush(stdout);

  double started = monotonic_ms();
  double next_frame = started;
  char line[256];
  size_t used = 0;
  for (;;) {
    double now = monotonic_ms();
    if (now - started > MAX_LIFETIME_S * 1000.0) break;
    if (now >= next_frame) {
      frame();
      next_frame += service_ms;
      if (next_frame < now) next_frame = now + service_ms;
    }
    double wait = next_frame - monotonic_ms();
    if (wait < 0) wait = 0;
    struct timespec timeout = { .tv_sec = (time_t)(wait / 1000), .tv_nsec = (long)((wait - (double)(time_t)(wait / 1000) * 1000) * 1e6) };
    struct pollfd in = { .fd = 0, .events = POLLIN };
    int ready = ppoll(&in, 1, &timeout, NULL);
    if (ready > 0) {
      ssize_t n = read(0, line + used, sizeof(line) - 1 - used);
      if (n <= 0) break; /* parent gone */
      used += (size_t)n;
      line[used] = '\0';
      char *newline;
      while ((newline = strchr(line, '\n')) != NULL) {
        *newline = '\0';
        int keep = command(line);
        size_t rest = used - (size_t)(newline + 1 - line);
        memmove(line, newline + 1, rest);
        used = rest;
        line[used] = '\0';
        if (!keep) goto done;
      }
      if (used == sizeof(line) - 1) used = 0; /* an overlong line is dropped */
    }
  }
done:
  if (peer != NULL) enet_peer_disconnect_now(peer, 0);
  enet_host_destroy(host);
  enet_deinitialize();
  free(latency);
  return 0;
}
