/* Plugins through the C ABI, from plain C: a rewriting filter, a rejecting
 * filter, a failing filter (fail closed), a failing observer that does not
 * stop ingestion, destroy called exactly once on every path, and the
 * built-in reporters' exports and queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/baton.h"

static int failures = 0;
#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",      \
              __FILE__, __LINE__, #cond, baton_last_error());            \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

typedef struct {
  int filtered;
  int observed;
  int destroyed;
  int nested_add_rc;
  int nested_destroyed;
  baton_engine* engine;
  char last_seen[512];
} counters;

static void count_destroy(void* ud) { ++((counters*)ud)->destroyed; }
static void nested_destroy(void* ud) { ++((counters*)ud)->nested_destroyed; }

/* Renames "internal name" to "public name" in test.start events. */
static int rewrite_filter(void* ud, baton_event* ev) {
  counters* c = (counters*)ud;
  size_t len = 0;
  const char* json = baton_event_json(ev, &len);
  const char* at;
  ++c->filtered;
  if (strcmp(baton_event_type(ev), "test.start") != 0) return BATON_OK;
  CHECK(baton_event_seq(ev) == 0);
  at = strstr(json, "internal name");
  if (at != NULL && len < 1000) {
    char buf[1024];
    size_t head = (size_t)(at - json);
    memcpy(buf, json, head);
    memcpy(buf + head, "public name", 11);
    strcpy(buf + head + 11, at + 13);
    return baton_event_replace(ev, buf, strlen(buf));
  }
  return BATON_OK;
}

/* Refuses test.log messages that say "drop me"; fails outright on "crash". */
static int gate_filter(void* ud, baton_event* ev) {
  size_t len = 0;
  const char* json = baton_event_json(ev, &len);
  (void)ud;
  if (strstr(json, "drop me") != NULL) return BATON_EREJECTED;
  if (strstr(json, "crash") != NULL) return BATON_EUSER;
  return BATON_OK;
}

static int recording_observer(void* ud, const baton_event* ev) {
  counters* c = (counters*)ud;
  size_t len = 0;
  const char* json = baton_event_json(ev, &len);
  ++c->observed;
  CHECK(baton_event_seq(ev) > 0);
  /* the filter stage is over: replacing is refused */
  CHECK(baton_event_replace((baton_event*)ev, "{}", 2) != BATON_OK);
  if (len < sizeof c->last_seen) memcpy(c->last_seen, json, len + 1);
  return BATON_OK;
}

static int failing_observer(void* ud, const baton_event* ev) {
  (void)ev;
  ++((counters*)ud)->observed;
  return BATON_EUSER;
}

/* Tries to add a plugin from inside a callback: refused, destroy still once. */
static int nesting_observer(void* ud, const baton_event* ev) {
  counters* c = (counters*)ud;
  uint64_t id = 0;
  (void)ev;
  if (c->nested_add_rc == 0) {
    c->nested_add_rc = baton_plugin_add(c->engine, "nested", NULL, failing_observer,
                                        nested_destroy, c, &id);
  }
  return BATON_OK;
}

static int push(baton_session* s, const char* msg, char** reply) {
  size_t len = 0;
  return baton_push(s, msg, strlen(msg), reply, &len);
}

static void push_ok(baton_session* s, const char* msg) {
  char* reply = NULL;
  int rc = push(s, msg, &reply);
  if (rc != BATON_OK) fprintf(stderr, "refused: %s -> %s\n", msg, reply ? reply : "(null)");
  CHECK(rc == BATON_OK);
  baton_free(reply);
}

int main(void) {
  baton_engine* e = NULL;
  baton_session* s = NULL;
  counters rw = {0}, gate = {0}, rec = {0}, bad = {0}, nest = {0}, never = {0}, closing = {0};
  uint64_t id_rw = 0, id_gate = 0, id_rec = 0, id_bad = 0, id_nest = 0, id_tmp = 0;
  char* out = NULL;
  char* reply = NULL;
  size_t out_len = 0;

  /* destroy runs once when the add fails before the engine is involved */
  CHECK(baton_plugin_add(NULL, "x", NULL, recording_observer, count_destroy, &never, &id_tmp) ==
        BATON_EINVALID_ARGUMENT);
  CHECK(never.destroyed == 1);

  CHECK(baton_open("{\"plugins\":{\"retry\":{\"max_retries\":1},\"screenshot\":{}}}", &e) == BATON_OK);
  CHECK(baton_session_open(e, "{\"client\":\"c1\"}", &s) == BATON_OK);

  CHECK(baton_plugin_add(e, NULL, NULL, recording_observer, count_destroy, &never, &id_tmp) ==
        BATON_EINVALID_ARGUMENT);
  CHECK(never.destroyed == 2);
  CHECK(baton_plugin_add(e, "none", NULL, NULL, count_destroy, &never, &id_tmp) ==
        BATON_EINVALID_ARGUMENT);
  CHECK(never.destroyed == 3);

  CHECK(baton_plugin_add(e, "rewrite", rewrite_filter, NULL, count_destroy, &rw, &id_rw) == BATON_OK);
  CHECK(baton_plugin_add(e, "gate", gate_filter, NULL, count_destroy, &gate, &id_gate) == BATON_OK);
  CHECK(baton_plugin_add(e, "failing", NULL, failing_observer, count_destroy, &bad, &id_bad) == BATON_OK);
  CHECK(baton_plugin_add(e, "recorder", NULL, recording_observer, count_destroy, &rec, &id_rec) == BATON_OK);
  nest.engine = e;
  CHECK(baton_plugin_add(e, "nesting", NULL, nesting_observer, count_destroy, &nest, &id_nest) == BATON_OK);

  push_ok(s, "{\"type\":\"run.start\",\"run\":\"r1\",\"name\":\"c run\"}");
  CHECK(nest.nested_add_rc == BATON_EINVALID_ARGUMENT);
  CHECK(nest.nested_destroyed == 1);

  /* the rewrite is what the recorder sees and what is stored */
  push_ok(s, "{\"type\":\"test.start\",\"run\":\"r1\",\"id\":\"t1\",\"name\":\"internal name\"}");
  CHECK(strstr(rec.last_seen, "public name") != NULL);
  CHECK(strstr(rec.last_seen, "internal name") == NULL);

  /* rejected, and a failing filter refuses too (fail closed) */
  CHECK(push(s, "{\"type\":\"test.log\",\"run\":\"r1\",\"id\":\"t1\",\"message\":\"drop me\"}", &reply) ==
        BATON_EREJECTED);
  CHECK(reply != NULL && strstr(reply, "\"code\":\"rejected\"") != NULL);
  baton_free(reply);
  reply = NULL;
  CHECK(push(s, "{\"type\":\"test.log\",\"run\":\"r1\",\"id\":\"t1\",\"message\":\"crash\"}", &reply) ==
        BATON_EREJECTED);
  CHECK(reply != NULL && strstr(reply, "gate") != NULL);
  baton_free(reply);
  reply = NULL;

  /* policies answer in the reply; the failing observer changed nothing */
  CHECK(push(s, "{\"type\":\"test.end\",\"run\":\"r1\",\"id\":\"t1\",\"status\":\"failed\","
                "\"error\":{\"message\":\"boom\"}}", &reply) == BATON_OK);
  CHECK(reply != NULL && strstr(reply, "\"retry\":{\"attempt\":2}") != NULL);
  CHECK(reply != NULL && strstr(reply, "\"capture\":{\"test\":\"t1\",\"attempt\":1") != NULL);
  baton_free(reply);
  reply = NULL;
  push_ok(s, "{\"type\":\"run.end\",\"run\":\"r1\"}");
  CHECK(bad.observed == 4);
  CHECK(rec.observed == 4);

  CHECK(baton_query(e, "{\"op\":\"tests\",\"run\":\"r1\"}", &out, &out_len) == BATON_OK);
  CHECK(out != NULL && strstr(out, "public name") != NULL && strstr(out, "internal name") == NULL);
  baton_free(out);
  out = NULL;
  CHECK(baton_query(e, "{\"op\":\"stats\"}", &out, &out_len) == BATON_OK);
  CHECK(out != NULL && strstr(out, "\"name\":\"failing\",\"calls\":") != NULL);
  CHECK(out != NULL && strstr(out, "\"failures\":4") != NULL);
  baton_free(out);
  out = NULL;

  /* the exports of the reporters, and the analytics queries */
  CHECK(baton_export(e, "r1", "junit", &out, &out_len) == BATON_OK);
  CHECK(out != NULL && strstr(out, "<failure message=\"boom\"") != NULL);
  baton_free(out);
  out = NULL;
  CHECK(baton_export(e, "r1", "ctrf", &out, &out_len) == BATON_OK);
  CHECK(out != NULL && strstr(out, "\"reportFormat\":\"CTRF\"") != NULL);
  baton_free(out);
  out = NULL;
  CHECK(baton_export(e, "r1", "html", &out, &out_len) == BATON_OK);
  CHECK(out != NULL && strncmp(out, "<!DOCTYPE html>", 15) == 0);
  baton_free(out);
  out = NULL;
  CHECK(baton_export(e, "r1", "xml", &out, &out_len) == BATON_EINVALID_ARGUMENT);
  CHECK(baton_query(e, "{\"op\":\"perf\",\"run\":\"r1\"}", &out, &out_len) == BATON_OK);
  CHECK(out != NULL && strstr(out, "\"regressions\":[]") != NULL);
  baton_free(out);
  out = NULL;
  CHECK(baton_query(e, "{\"op\":\"flaky\"}", &out, &out_len) == BATON_OK);
  baton_free(out);
  out = NULL;
  CHECK(baton_query(e, "{\"op\":\"history\",\"test\":\"t1\"}", &out, &out_len) == BATON_OK);
  CHECK(out != NULL && strstr(out, "\"run\":\"r1\"") != NULL);
  baton_free(out);
  out = NULL;

  /* remove: destroy once; a second remove finds nothing and destroys nothing */
  CHECK(baton_plugin_remove(e, id_gate) == BATON_OK);
  CHECK(gate.destroyed == 1);
  CHECK(baton_plugin_remove(e, id_gate) == BATON_ENOT_FOUND);
  CHECK(gate.destroyed == 1);
  CHECK(baton_plugin_add(e, "closing", NULL, recording_observer, count_destroy, &closing, &id_tmp) ==
        BATON_OK);

  CHECK(baton_session_close(s) == BATON_OK);
  CHECK(baton_close(e) == BATON_OK);
  /* close: every plugin still registered is destroyed exactly once */
  CHECK(rw.destroyed == 1);
  CHECK(gate.destroyed == 1);
  CHECK(bad.destroyed == 1);
  CHECK(rec.destroyed == 1);
  CHECK(nest.destroyed == 1);
  CHECK(nest.nested_destroyed == 1);
  CHECK(closing.destroyed == 1);
  CHECK(never.destroyed == 3);
  (void)id_rw;
  (void)id_bad;
  (void)id_rec;
  (void)id_nest;

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("test_plugins_c: all checks passed\n");
  return 0;
}
