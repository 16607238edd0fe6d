/* yamlcheck: refuse deep YAML nesting before loading (see yamlcheck.h). */
#include "yamlcheck.h"

bool yaml_nesting_ok(const char *text, size_t len, int max_depth, yaml_mark_t *where)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return true; /* the loader reports the failure */
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int depth = 0;
    bool ok = true;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > max_depth) {
                *where = ev.start_mark;
                ok = false;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (!ok || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return ok;
}
