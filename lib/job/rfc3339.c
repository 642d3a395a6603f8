/* Go-style RFC 3339: time.Time as Go's encoding/json writes it
 * (RFC3339Nano in UTC, trailing zeros of the fraction dropped, the zero
 * time as "0001-01-01T00:00:00Z"), and back. */
#include "job/job_internal.h"

#include <string.h>

void gc__rfc3339_go(int64_t unix_ns, char out[48])
{
	char *dot, *z;
	if (unix_ns == 0) {
		memcpy(out, "0001-01-01T00:00:00Z", 21);
		return;
	}
	gc__rfc3339(unix_ns, true, out);
	dot = strchr(out, '.');
	z = strchr(out, 'Z');
	if (!dot || !z)
		return;
	while (z > dot + 1 && z[-1] == '0')
		z--;
	if (z == dot + 1)
		z = dot;
	memcpy(z, "Z", 2);
}

int gc__parse_rfc3339_go(const char *s, int64_t *unix_ns)
{
	int year = 0;
	if (!s)
		return GC_EINVAL;
	if (strcmp(s, "0001-01-01T00:00:00Z") == 0) {
		*unix_ns = 0;
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return GC_EINVAL;
		year = year * 10 + (s[i] - '0');
	}
	/* the span int64 nanoseconds can hold */
	if (year < 1678 || year > 2261)
		return GC_EINVAL;
	return gc__parse_rfc3339(s, unix_ns);
}

