/*
 * banned.h - functions bourse does not call, made compile errors (after
 * git's banned.h).
 *
 * Use: the LAST #include of a .c file, after every system and library
 * header (each of them may declare or use these names; a function-like
 * macro defined before <stdlib.h> or <string.h> would break their
 * declarations). Never in a header. Calling a banned function then fails
 * with an error naming it: "'sorry_strcpy_is_a_banned_function'
 * undeclared".
 *
 *	#include <stdio.h>
 *	#include <string.h>
 *
 *	#include "store.h"
 *	#include "util.h"
 *	#include "banned.h"
 *
 * What to use instead:
 *  - atoi, atol, atoll: no error, undefined on overflow. strtol/strtoll
 *    with end and errno checks (cli_parse_i64() in cli/ does it).
 *  - strcpy, strcat, sprintf, vsprintf: no bound. snprintf/vsnprintf with
 *    the destination's size, or memcpy with a length you checked.
 *  - strncpy, strncat: no NUL when the source is too long (strncpy) or a
 *    bound that is not the buffer's size (strncat). snprintf(dst,
 *    sizeof(dst), "%s", src) truncates and terminates.
 *  - gets: no bound at all. fgets.
 *  - strtok: hidden state. strtok_r or a loop with strchr/strcspn.
 *  - gmtime, localtime, ctime, asctime: a shared static result.
 *    gmtime_r, localtime_r, strftime.
 */
#ifndef BOURSE_BANNED_H
#define BOURSE_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef atoi
#define atoi(...) BANNED(atoi)
#undef atol
#define atol(...) BANNED(atol)
#undef atoll
#define atoll(...) BANNED(atoll)

#undef strcpy
#define strcpy(...) BANNED(strcpy)
#undef strcat
#define strcat(...) BANNED(strcat)
#undef strncpy
#define strncpy(...) BANNED(strncpy)
#undef strncat
#define strncat(...) BANNED(strncat)

#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)

#undef gets
#define gets(...) BANNED(gets)

#undef strtok
#define strtok(...) BANNED(strtok)

#undef gmtime
#define gmtime(...) BANNED(gmtime)
#undef localtime
#define localtime(...) BANNED(localtime)
#undef ctime
#define ctime(...) BANNED(ctime)
#undef asctime
#define asctime(...) BANNED(asctime)

#endif
