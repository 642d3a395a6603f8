/* Standalone driver for libFuzzer targets so gcc builds and runs them:
 * replays every file of the corpus directories given, then mutates them
 * randomly until -max_total_time=SECONDS has passed. With clang, link the
 * target with -fsanitize=fuzzer instead of this file. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	uint8_t *data;
	size_t len;
};

static struct input *inputs;
static size_t ninputs, cap;

static void add_input(const uint8_t *d, size_t n)
{
	if (ninputs == cap) {
		cap = cap ? cap * 2 : 64;
		inputs = realloc(inputs, cap * sizeof(*inputs));
		if (!inputs)
			abort();
	}
	inputs[ninputs].data = malloc(n ? n : 1);
	if (!inputs[ninputs].data)
		abort();
	memcpy(inputs[ninputs].data, d, n);
	inputs[ninputs].len = n;
	ninputs++;
}

static void load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[1 << 16];
	size_t n;
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	add_input(buf, n);
}

static void load(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	if (stat(path, &st))
		return;
	if (!S_ISDIR(st.st_mode)) {
		load_file(path);
		return;
	}
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		load_file(p);
	}
	closedir(d);
}

static const char *dict[] = {"*", "?", "/", ",", "-", "L", "W", "#", " ",
			     "\t", "@daily", "0", "59", "2099", "jan", "mon",
			     "{", "}", "\"", ":", "[", "]", "=", "&", "%"};

int main(int argc, char **argv)
{
	long seconds = 10;
	unsigned seed = (unsigned)time(NULL);
	uint64_t runs = 0;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "-max_total_time=", 16))
			seconds = atol(argv[i] + 16);
		else if (!strncmp(argv[i], "-seed=", 6))
			seed = (unsigned)atol(argv[i] + 6);
		else if (argv[i][0] != '-')
			load(argv[i]);
	}
	srand(seed);
	for (size_t i = 0; i < ninputs; i++, runs++)
		LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
	if (!ninputs)
		add_input((const uint8_t *)"", 0);
	time_t end = time(NULL) + seconds;
	uint8_t buf[4096];
	while (time(NULL) < end) {
		for (int k = 0; k < 1000; k++, runs++) {
			struct input *in = &inputs[(size_t)rand() % ninputs];
			size_t n = in->len < sizeof(buf) ? in->len : sizeof(buf);
			memcpy(buf, in->data, n);
			int muts = 1 + rand() % 4;
			for (int m = 0; m < muts; m++) {
				int op = rand() % 4;
				size_t pos = n ? (size_t)rand() % n : 0;
				if (op == 0 && n) {
					buf[pos] = (uint8_t)rand();
				} else if (op == 1 && n) {
					memmove(buf + pos, buf + pos + 1,
						n - pos - 1);
					n--;
				} else if (op == 2 && n + 16 < sizeof(buf)) {
					const char *w =
						dict[(size_t)rand() %
						     (sizeof(dict) /
						      sizeof(dict[0]))];
					size_t wl = strlen(w);
					memmove(buf + pos + wl, buf + pos,
						n - pos);
					memcpy(buf + pos, w, wl);
					n += wl;
				} else if (n + 1 < sizeof(buf)) {
					memmove(buf + pos + 1, buf + pos,
						n - pos);
					buf[pos] = (uint8_t)(rand() % 128);
					n++;
				}
			}
			LLVMFuzzerTestOneInput(buf, n);
		}
	}
	printf("standalone fuzz driver: %llu runs in %ld s, no crash\n",
	       (unsigned long long)runs, seconds);
	return 0;
}
