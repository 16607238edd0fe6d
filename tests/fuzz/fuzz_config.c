/*
 * fuzz_config: the contexts-file loader (core/config.c) on YAML from memory.
 * An accepted config has named, distinct contexts and a current-context that
 * names one of them; a refused one says where and why; nothing leaks.
 */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_copy(data, size);
    if (!buf)
        return 0;
    struct config *cfg = NULL;
    struct error err;
    error_clear(&err);
    if (config_load_string(buf, size, "fuzz-config.yaml", &cfg, &err) == 0) {
        FUZZ_CHECK(cfg && strcmp(cfg->path, "fuzz-config.yaml") == 0);
        for (size_t i = 0; i < cfg->n_contexts; i++) {
            const struct context *c = &cfg->contexts[i];
            FUZZ_CHECK(c->name && c->name[0]);
            FUZZ_CHECK(c->refresh >= 0);
            FUZZ_CHECK(config_find(cfg, c->name) == c);
        }
        if (cfg->current_context)
            FUZZ_CHECK(config_find(cfg, NULL) != NULL);
        config_free(cfg);
    } else {
        FUZZ_CHECK(cfg == NULL);
        FUZZ_CHECK(err.code != 0 && err.msg[0] != 0);
    }
    free(buf);
    return 0;
}
