/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Fuzzes the reader of crit's output for files.img (image_files_parse()): the files it names are
 * looked up below a root that does not exist, so only the parser and its messages run. */

#include <stdint.h>

#include "image-files.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	_cleanup_free_ char *text = malloc(size + 1), *error = NULL;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	json_t *problems = json_array();
	if (!problems)
		return 0;
	int r = image_files_parse(text, "/nonexistent/ckptd-fuzz-root", problems, &error);
	if (r < 0 && r != -EBADMSG && r != -ENOMEM)
		abort();
	for (size_t i = 0; i < json_array_size(problems); i++)
		if (!json_is_string(json_array_get(problems, i)))
			abort();
	json_decref(problems);
	return 0;
}
