/* cmdline: line editor, completion and history (see cmdline.h). */
#include "cmdline.h"

#include "sanitize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmdline_init(struct cmdline *c)
{
    memset(c, 0, sizeof(*c));
}

void cmdline_fini(struct cmdline *c)
{
    for (int i = 0; i < c->n_hist; i++)
        free(c->hist[i]);
    cmdline_init(c);
}

void cmdline_reset(struct cmdline *c)
{
    c->buf[0] = 0;
    c->len = c->cur = 0;
    c->hist_pos = c->n_hist;
    c->draft[0] = 0;
}

void cmdline_set(struct cmdline *c, const char *text)
{
    snprintf(c->buf, sizeof(c->buf), "%s", text ? text : "");
    c->len = strlen(c->buf);
    /* Never leave a cut UTF-8 sequence at the end. */
    while (c->len > 0 && ((unsigned char)c->buf[c->len - 1] & 0xc0) == 0x80)
        c->len--;
    if (c->len > 0 && (unsigned char)c->buf[c->len - 1] >= 0xc0)
        c->len--;
    c->buf[c->len] = 0;
    c->cur = c->len;
}

static bool is_cont(char ch)
{
    return ((unsigned char)ch & 0xc0) == 0x80;
}

bool cmdline_insert(struct cmdline *c, uint32_t cp)
{
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return false;
    char enc[4];
    size_t l = sanitize_utf8_encode(cp, enc);
    if (c->len + l >= sizeof(c->buf))
        return false;
    memmove(c->buf + c->cur + l, c->buf + c->cur, c->len - c->cur + 1);
    memcpy(c->buf + c->cur, enc, l);
    c->len += l;
    c->cur += l;
    return true;
}

static size_t prev_boundary(const struct cmdline *c, size_t i)
{
    if (i == 0)
        return 0;
    i--;
    while (i > 0 && is_cont(c->buf[i]))
        i--;
    return i;
}

static size_t next_boundary(const struct cmdline *c, size_t i)
{
    if (i >= c->len)
        return c->len;
    i++;
    while (i < c->len && is_cont(c->buf[i]))
        i++;
    return i;
}

static void cut(struct cmdline *c, size_t from, size_t to)
{
    memmove(c->buf + from, c->buf + to, c->len - to + 1);
    c->len -= to - from;
    if (c->cur > to)
        c->cur -= to - from;
    else if (c->cur > from)
        c->cur = from;
}

void cmdline_backspace(struct cmdline *c)
{
    if (c->cur > 0)
        cut(c, prev_boundary(c, c->cur), c->cur);
}

void cmdline_delete(struct cmdline *c)
{
    if (c->cur < c->len)
        cut(c, c->cur, next_boundary(c, c->cur));
}

void cmdline_left(struct cmdline *c)
{
    c->cur = prev_boundary(c, c->cur);
}

void cmdline_right(struct cmdline *c)
{
    c->cur = next_boundary(c, c->cur);
}

void cmdline_home(struct cmdline *c)
{
    c->cur = 0;
}

void cmdline_end(struct cmdline *c)
{
    c->cur = c->len;
}

void cmdline_kill_line(struct cmdline *c)
{
    cut(c, 0, c->cur);
}

void cmdline_kill_word(struct cmdline *c)
{
    size_t i = c->cur;
    while (i > 0 && c->buf[i - 1] == ' ')
        i--;
    while (i > 0 && c->buf[i - 1] != ' ')
        i--;
    cut(c, i, c->cur);
}

void cmdline_history_add(struct cmdline *c, const char *line)
{
    if (!line || !*line)
        return;
    if (c->n_hist > 0 && strcmp(c->hist[c->n_hist - 1], line) == 0) {
        c->hist_pos = c->n_hist;
        return;
    }
    char *dup = strdup(line);
    if (!dup)
        return;
    if (c->n_hist == CMDLINE_HISTORY) {
        free(c->hist[0]);
        memmove(c->hist, c->hist + 1, (CMDLINE_HISTORY - 1) * sizeof(c->hist[0]));
        c->n_hist--;
    }
    c->hist[c->n_hist++] = dup;
    c->hist_pos = c->n_hist;
}

void cmdline_history_prev(struct cmdline *c)
{
    if (c->hist_pos <= 0)
        return;
    if (c->hist_pos == c->n_hist)
        snprintf(c->draft, sizeof(c->draft), "%s", c->buf);
    c->hist_pos--;
    cmdline_set(c, c->hist[c->hist_pos]);
}

void cmdline_history_next(struct cmdline *c)
{
    if (c->hist_pos >= c->n_hist)
        return;
    c->hist_pos++;
    if (c->hist_pos == c->n_hist) {
        char tmp[CMDLINE_MAX];
        snprintf(tmp, sizeof(tmp), "%s", c->draft);
        cmdline_set(c, tmp);
    } else {
        cmdline_set(c, c->hist[c->hist_pos]);
    }
}

int cmdline_word_index(const struct cmdline *c, size_t *word_start)
{
    int idx = 0;
    size_t start = 0;
    bool in_word = false;
    for (size_t i = 0; i < c->cur; i++) {
        if (c->buf[i] == ' ') {
            if (in_word)
                idx++;
            in_word = false;
            start = i + 1;
        } else {
            in_word = true;
        }
    }
    /* Leading blanks do not count as a word before the command. */
    if (!in_word && idx == 0) {
        bool any = false;
        for (size_t i = 0; i < c->cur; i++)
            any |= c->buf[i] != ' ';
        if (any)
            idx = 1;
    }
    if (word_start)
        *word_start = start;
    return idx;
}

size_t cmdline_complete(struct cmdline *c, const char *const *cands, size_t n, char *shown,
                        size_t shown_n)
{
    size_t start;
    cmdline_word_index(c, &start);
    size_t plen = c->cur - start;
    const char *prefix = c->buf + start;
    size_t matches = 0, common = 0;
    const char *first = NULL;
    size_t so = 0;
    if (shown && shown_n)
        shown[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i] || strncmp(cands[i], prefix, plen) != 0)
            continue;
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup |= cands[j] && strcmp(cands[j], cands[i]) == 0;
        if (dup)
            continue;
        if (!first) {
            first = cands[i];
            common = strlen(first);
        } else {
            size_t k = 0;
            while (k < common && cands[i][k] == first[k])
                k++;
            common = k;
        }
        if (shown && shown_n) {
            int w = snprintf(shown + so, shown_n - so, "%s%s", matches ? "  " : "", cands[i]);
            if (w > 0 && so + (size_t)w < shown_n)
                so += (size_t)w;
        }
        matches++;
    }
    if (matches == 0)
        return 0;
    /* Keep whole UTF-8 sequences when cutting to the common prefix. */
    while (common > plen && common < strlen(first) && is_cont(first[common]))
        common--;
    char rest[CMDLINE_MAX];
    size_t extra = common > plen ? common - plen : 0;
    if (extra >= sizeof(rest))
        extra = sizeof(rest) - 1;
    memcpy(rest, first + plen, extra);
    rest[extra] = 0;
    /* Insert byte-wise: candidates are trusted, already valid text. */
    for (size_t i = 0; i < extra && c->len + 1 < sizeof(c->buf); i++) {
        memmove(c->buf + c->cur + 1, c->buf + c->cur, c->len - c->cur + 1);
        c->buf[c->cur++] = rest[i];
        c->len++;
    }
    if (matches == 1 && (c->cur >= c->len || c->buf[c->cur] != ' '))
        cmdline_insert(c, ' ');
    return matches;
}
