/* The stdio framer (gateway/stdio.c, gw_stdio_frame): whatever the chunks a
 * pipe delivers, every complete line is handled exactly once, in order, and a
 * line longer than the limit is refused once.
 *
 * Input: byte 0 picks the line limit, byte 1 how many chunk sizes follow,
 * then those sizes, then the stream. The stream is fed three ways, in the
 * input's chunks, whole, and one byte at a time (so a message is cut at every
 * byte boundary), and each must give exactly what a reference framer written
 * here from the transport's rules gives for the stream as a whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "gateway/stdio.h"

/* What the framer did: 'M' <len:8> <bytes> per message, 'O' per refusal. */
struct events {
	char *buf;
	size_t len, cap;
};

static void put(struct events *e, const void *p, size_t n)
{
	if (e->len + n > e->cap) {
		e->cap = (e->len + n) * 2 + 64;
		e->buf = realloc(e->buf, e->cap);
		if (!e->buf)
			abort();
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void put_message(struct events *e, const char *msg, size_t len)
{
	put(e, "M", 1);
	put(e, &len, sizeof(len));
	put(e, msg, len);
}

static void on_message(void *ud, const char *msg, size_t len)
{
	CHECK(len > 0, "an empty message was dispatched");
	CHECK(memchr(msg, '\n', len) == NULL, "a message contains a newline");
	put_message(ud, msg, len);
}

static void on_overlong(void *ud)
{
	put(ud, "O", 1);
}

/* One line (or the unterminated tail), by the rules stated in stdio.h. */
static void reference_line(struct events *e, const char *line, size_t len, size_t max)
{
	size_t k = 0;

	if (len > max) {
		put(e, "O", 1);
		return;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--;
	while (k < len && (line[k] == ' ' || line[k] == '\t'))
		k++;
	if (k < len)
		put_message(e, line + k, len - k);
}

static void reference(struct events *e, const char *data, size_t n, size_t max)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (data[i] != '\n')
			continue;
		reference_line(e, data + start, i - start, max);
		start = i + 1;
	}
	if (start < n)
		reference_line(e, data + start, n - start, max);
}

/* Feeds data in chunks of sizes[0], sizes[1], ... (cycling); nsizes 0 means
 * the whole stream at once. */
static void run(struct events *e, const char *data, size_t n, size_t max, const uint8_t *sizes,
		size_t nsizes)
{
	struct gw_stdio_framer f = {
	    .max = max, .on_message = on_message, .on_overlong = on_overlong, .ud = e};
	size_t off = 0, k = 0;

	while (off < n) {
		size_t c = nsizes ? (size_t)sizes[k++ % nsizes] + 1 : n;
		if (c > n - off)
			c = n - off;
		gw_stdio_frame(&f, data + off, c);
		off += c;
	}
	gw_stdio_frame_end(&f);
	/* The framer is reusable after its end: a second, empty stream gives nothing. */
	size_t before = e->len;
	gw_stdio_frame_end(&f);
	CHECK(e->len == before, "a second end dispatched again");
	gw_stdio_framer_free(&f);
}

static void compare(const struct events *got, const struct events *want, const char *how)
{
	CHECK(got->len == want->len &&
		  (got->len == 0 || memcmp(got->buf, want->buf, got->len) == 0),
	      "feeding %s gave %zu bytes of events, the reference %zu", how, got->len, want->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t one[] = {0};
	struct events want = {0}, got = {0};
	size_t max, nsizes;
	const uint8_t *sizes;

	if (size < 2)
		return 0;
	/* Limits from 1 byte to a few hundred, and the real one (16 MiB). */
	max = data[0] == 0xff ? GW_STDIO_MAX_LINE : (size_t)data[0] * 2 + 1;
	nsizes = data[1] % 16;
	if (size < 2 + nsizes)
		return 0;
	sizes = data + 2;
	const char *stream = (const char *)data + 2 + nsizes;
	size_t n = size - 2 - nsizes;

	reference(&want, stream, n, max);

	run(&got, stream, n, max, sizes, nsizes);
	compare(&got, &want, "the input's chunks");
	got.len = 0;
	run(&got, stream, n, max, NULL, 0);
	compare(&got, &want, "the whole stream");
	got.len = 0;
	run(&got, stream, n, max, one, 1);
	compare(&got, &want, "one byte at a time");

	free(want.buf);
	free(got.buf);
	return 0;
}
