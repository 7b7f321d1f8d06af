/*
 * baton.h - the C ABI of baton, ABI version 1.
 *
 * baton is an embeddable engine that coordinates distributed test execution
 * and ingests test-lifecycle events. A host opens an engine, opens one session
 * per connected client, and pushes every inbound JSON message through it; each
 * push returns a JSON reply that the host sends back unchanged.
 *
 * Conventions
 *   - Every fallible function returns an int status: BATON_OK (0) or a
 *     negative BATON_E* code. The detail of the last failure on the calling
 *     thread is in baton_last_error().
 *   - Inputs are pointer + length or NUL-terminated strings; whatever baton
 *     keeps, it copies.
 *   - Every buffer baton returns is released with baton_free(). Every free and
 *     close function accepts NULL.
 *   - Callbacks take user_data first and come with a destroy function that is
 *     called exactly once.
 *   - Thread safety: an engine may be used from any number of threads at once.
 *     A session may be used from one thread at a time. Callbacks of one engine
 *     are never called concurrently and never re-entered.
 *
 * Functions may be added in later minor versions; none is changed or removed
 * without a new ABI version (the shared library's SOVERSION).
 */
#ifndef BATON_H_
#define BATON_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BATON_BUILDING_LIBRARY)
#define BATON_EXPORT __attribute__((visibility("default")))
#else
#define BATON_EXPORT
#endif

#define BATON_VERSION_MAJOR 0
#define BATON_VERSION_MINOR 1
#define BATON_VERSION_PATCH 0
#define BATON_ABI_VERSION 1

/* Status codes. Values are stable and never reused. */
#define BATON_OK 0
#define BATON_EINVALID_ARGUMENT (-1) /* bad handle, NULL where not allowed, bad options */
#define BATON_EPARSE (-2)            /* not well-formed JSON, or not UTF-8 */
#define BATON_EINVALID (-3)          /* well-formed, but breaks the schema or a limit */
#define BATON_EDENIED (-4)           /* the access controller refused */
#define BATON_ERATE_LIMITED (-5)     /* over the rate limit; the reply carries retry_after_ms */
#define BATON_ECONFLICT (-6)         /* not allowed in the current state */
#define BATON_ENOT_FOUND (-7)
#define BATON_EREJECTED (-8)         /* a filter plugin refused the event */
#define BATON_ESTORAGE (-9)          /* the store failed; the event was NOT applied */
#define BATON_ECLOSED (-10)          /* engine or session already closed */
#define BATON_EINTERNAL (-11)
#define BATON_EUSER (-12)            /* reserved for callbacks: "my host code failed" */

/* Log levels for baton_set_logger. */
#define BATON_LOG_DEBUG 0
#define BATON_LOG_INFO 1
#define BATON_LOG_WARN 2
#define BATON_LOG_ERROR 3

typedef struct baton_engine baton_engine;
typedef struct baton_session baton_session;
typedef struct baton_event baton_event;

/* ---- Library ------------------------------------------------------------ */

/* "MAJOR.MINOR.PATCH" of the loaded library. */
BATON_EXPORT const char* baton_version(void);
/* The ABI version of the loaded library (1). Bindings check it on load. */
BATON_EXPORT int baton_abi_version(void);
/* "ok", "invalid_argument", "parse", ... ; "unknown" for other values. Never NULL. */
BATON_EXPORT const char* baton_status_name(int status);
/* Detail of the last failure on this thread; "" after a success. Never NULL. */
BATON_EXPORT const char* baton_last_error(void);
/* Releases a buffer returned by baton. NULL-safe. */
BATON_EXPORT void baton_free(void* p);

/* ---- Engine ------------------------------------------------------------- */

/* Opens an engine. options_json NULL or "" means defaults (in-memory store).
 * Options: path, durability ("full"|"normal"|"async"), clock ("system"|"manual"),
 * limits, rate_limit, access, plugins, store. See docs/options.md. */
BATON_EXPORT int baton_open(const char* options_json, baton_engine** out);
/* Flushes, calls every plugin's destroy, closes the store. NULL-safe. */
BATON_EXPORT int baton_close(baton_engine* e);
/* Makes everything acknowledged so far durable (commits pending batches). */
BATON_EXPORT int baton_flush(baton_engine* e);
/* Sets the engine's time; only with options {"clock":"manual"}. Time never goes back. */
BATON_EXPORT int baton_clock_set(baton_engine* e, int64_t now_ms);
/* Replaces the access configuration at run time (the `access` option object;
 * NULL or "" means open mode). Open sessions lose revoked rights at once. */
BATON_EXPORT int baton_access_reload(baton_engine* e, const char* access_json);

/* ---- Sessions ----------------------------------------------------------- */

/* credentials_json: {"client": "ci-3", "token": "..."}; NULL in open mode
 * means an anonymous client. */
BATON_EXPORT int baton_session_open(baton_engine* e, const char* credentials_json,
                                    baton_session** out);
/* Closes the session; its queue leases are released after the grace period. NULL-safe. */
BATON_EXPORT int baton_session_close(baton_session* s);
/* Pushes one message. When reply is not NULL it is always set (on success and
 * on refusal) to a JSON reply the caller frees with baton_free. */
BATON_EXPORT int baton_push(baton_session* s, const char* msg, size_t len, char** reply,
                            size_t* reply_len);
/* A query on behalf of the session's principal (needs the viewer or admin role
 * when access is configured). Same request and answer as baton_query. */
BATON_EXPORT int baton_session_query(baton_session* s, const char* request_json, char** out,
                                     size_t* out_len);

/* ---- Queries and exports ------------------------------------------------ */

/* request_json: {"op": "run"|"runs"|"tests"|"stats"|"queue"|..., ...}. */
BATON_EXPORT int baton_query(baton_engine* e, const char* request_json, char** out,
                             size_t* out_len);
/* format: "json" | "junit" | "ctrf". */
BATON_EXPORT int baton_export(baton_engine* e, const char* run, const char* format, char** out,
                              size_t* out_len);

/* ---- Events seen by callbacks ------------------------------------------ */

/* Borrowed: valid only during the callback. */
BATON_EXPORT const char* baton_event_type(const baton_event* ev);
BATON_EXPORT const char* baton_event_json(const baton_event* ev, size_t* len);
/* The global sequence number; 0 during the filter stage. */
BATON_EXPORT int64_t baton_event_seq(const baton_event* ev);
/* Rewrites the event (filter stage only). The new JSON is validated again. */
BATON_EXPORT int baton_event_replace(baton_event* ev, const char* json, size_t len);

/* ---- Plugins ------------------------------------------------------------ */

/* A filter returns BATON_OK to keep the event (maybe rewritten), BATON_EREJECTED
 * to drop it; any other value also refuses it (fail closed). */
typedef int (*baton_filter_fn)(void* user_data, baton_event* ev);
/* Runs after the event is applied (and committed in normal/full durability).
 * A non-zero return is counted in stats and never affects ingestion. */
typedef int (*baton_observe_fn)(void* user_data, const baton_event* ev);
typedef void (*baton_destroy_fn)(void* user_data);

/* Either filter or observe may be NULL. destroy is called exactly once: on
 * remove, on close, or when this call fails. */
BATON_EXPORT int baton_plugin_add(baton_engine* e, const char* name, baton_filter_fn filter,
                                  baton_observe_fn observe, baton_destroy_fn destroy,
                                  void* user_data, uint64_t* out_id);
BATON_EXPORT int baton_plugin_remove(baton_engine* e, uint64_t id);

/* ---- Logging ------------------------------------------------------------ */

typedef void (*baton_log_fn)(void* user_data, int level, const char* message);
/* Warnings (open access mode, failing plugins, slow commits) go here; default
 * silent. fn NULL removes the logger. */
BATON_EXPORT int baton_set_logger(baton_engine* e, baton_log_fn fn, int min_level,
                                  void* user_data);

/* ---- Replay ------------------------------------------------------------- */

/* Return non-zero to stop the replay (baton_replay then returns BATON_OK). */
typedef int (*baton_replay_fn)(void* user_data, const baton_event* ev);
/* filter_json: {"run": "...", "from_seq": N, "types": ["test.end", ...]} or NULL. */
BATON_EXPORT int baton_replay(baton_engine* e, const char* filter_json, baton_replay_fn fn,
                              void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* BATON_H_ */
