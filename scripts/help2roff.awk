# help2roff.awk: one `bourse ... --help` text on stdin, a man page (roff,
# man(7) macros) on stdout. Run by scripts/gen-man.sh, which passes:
#   page     the page's name (bourse-recs-list)
#   cmdline  the command it documents (bourse recs list)
#   summary  the NAME line's description
#   version  the binary's version (bourse --version)
#   date     the page's date (YYYY-MM-DD)
#   seealso  the other pages to name, space-separated (bourse bourse-recs)
#
# The help texts follow one layout (cli/*.c): a "usage:" block up to the
# first blank line; then prose at column 0 and lists indented, one item a
# line whose continuation lines are indented deeper. An item is TERM, two
# or more spaces, DESCRIPTION; TERM is an option (--db PATH, -h, --help)
# or a word (a subcommand, a mode). A short column-0 line ending in ':'
# directly above a list is a section heading ("commands:"). The first
# list of options opens OPTIONS; prose after it goes to NOTES. Anything
# else is kept as prose, so a help text of a new shape still gives a
# page, if a plainer one.

# roff's special characters in text: the backslash, and '-' written \-
# (a minus, which man pages use for options, so they can be searched for
# and copied).
function esc(s) {
	gsub(/\\/, "\\\\e", s)
	gsub(/-/, "\\\\-", s)
	return s
}

# A text line: a leading '.' or '\'' would be a request to roff.
function out(s) {
	if (s ~ /^[.']/)
		s = "\\&" s
	print s
}

function indent_of(s) {
	match(s, /^ */)
	return RLENGTH
}

function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}

# An option's term: options bold, their arguments (NAME, PATH,
# FIRST:COUNT, NAME=VAL) italic, the rest (commas) as they are.
function fmt_option_term(t,    n, w, i, r, tail) {
	n = split(t, w, " ")
	r = ""
	for (i = 1; i <= n; i++) {
		tail = ""
		if (w[i] ~ /,$/) {
			tail = ","
			w[i] = substr(w[i], 1, length(w[i]) - 1)
		}
		if (w[i] ~ /^-/)
			w[i] = "\\fB" esc(w[i]) "\\fR"
		else if (w[i] ~ /^[A-Z]/)
			w[i] = "\\fI" esc(w[i]) "\\fR"
		else
			w[i] = esc(w[i])
		r = r (i > 1 ? " " : "") w[i] tail
	}
	return r
}

# A word item's term (a subcommand and its arguments, a mode): the first
# word bold.
function fmt_word_term(t,    sp) {
	sp = index(t, " ")
	if (sp == 0)
		return "\\fB" esc(t) "\\fR"
	return "\\fB" esc(substr(t, 1, sp - 1)) "\\fR " esc(substr(t, sp + 1))
}

# Splits an item's text into TERM and DESC (globals): at the first run of
# two spaces; an option without one ("--reason TEXT why ...") ends at the
# first word that is neither an option nor an argument in capitals.
function split_item(t,    n, w, i) {
	if (match(t, /  +/)) {
		TERM = substr(t, 1, RSTART - 1)
		DESC = substr(t, RSTART + RLENGTH)
		return
	}
	if (t !~ /^-/) {
		TERM = t
		DESC = ""
		return
	}
	n = split(t, w, " ")
	TERM = w[1]
	for (i = 2; i <= n; i++) {
		if (w[i] !~ /^-/ && w[i] !~ /^[A-Z][A-Z0-9_:=.,]*(\.\.\.)?$/)
			break
		TERM = TERM " " w[i]
	}
	DESC = ""
	for (; i <= n; i++)
		DESC = DESC (DESC == "" ? "" : " ") w[i]
}

function section(name) {
	print ".SH " name
	sect = name
	need_pp = 0
}

{ lines[NR] = $0 }

END {
	print ".\\\" Generated from `" cmdline " --help` by scripts/gen-man.sh:" \
	      " do not edit."
	printf ".TH \"%s\" \"1\" \"%s\" \"bourse %s\" \"bourse manual\"\n",
	       toupper(page), date, version
	print ".nh"
	section("NAME")
	out(esc(page) " \\- " esc(summary))

	# SYNOPSIS: the usage block, its line breaks kept.
	i = 1
	section("SYNOPSIS")
	print ".nf"
	if (lines[1] ~ /^usage: /) {
		for (; i <= NR && lines[i] != ""; i++) {
			l = lines[i]
			if (l ~ /^usage: /)
				l = substr(l, 8)
			else if (l ~ /^       /)
				l = substr(l, 8)
			else
				l = trim(l)
			# the command's words bold, the rest as written
			n = split(l, w, " ")
			b = ""
			for (k = 1; k <= n && w[k] ~ /^[a-z][a-z0-9-]*$/; k++)
				b = b (b == "" ? "" : " ") w[k]
			if (b != "" && substr(l, 1, length(b)) == b)
				l = "\\fB" esc(b) "\\fR" esc(substr(l, length(b) + 1))
			else
				l = esc(l)
			out(l)
		}
	} else {
		out("\\fB" esc(page) "\\fR")
	}
	print ".fi"

	sect = ""
	auto_opts = 0
	in_item = 0
	item_indent = 0
	need_pp = 0
	for (; i <= NR; i++) {
		l = lines[i]
		if (trim(l) == "") {
			need_pp = 1
			in_item = 0
			continue
		}
		ind = indent_of(l)
		t = trim(l)
		if (ind == 0) {
			in_item = 0
			nxt = (i < NR) ? lines[i + 1] : ""
			if (t ~ /:$/ && length(t) <= 40 && indent_of(nxt) > 0 &&
			    trim(nxt) != "") {
				section(toupper(substr(t, 1, length(t) - 1)))
				auto_opts = 0
				continue
			}
			if (sect == "NAME" || sect == "SYNOPSIS" || sect == "")
				section("DESCRIPTION")
			else if (auto_opts && sect == "OPTIONS")
				section("NOTES")
			if (need_pp || last == "item")
				print ".PP"
			need_pp = 0
			out(esc(t))
			last = "prose"
			continue
		}
		if (in_item && ind > item_indent) {
			out(esc(t))
			continue
		}
		split_item(t)
		if (t ~ /^-/ && (sect == "SYNOPSIS" || sect == "DESCRIPTION" ||
				 sect == "NOTES")) {
			section("OPTIONS")
			auto_opts = 1
		} else if (sect == "SYNOPSIS") {
			section("DESCRIPTION")
		}
		print ".TP"
		out(t ~ /^-/ ? fmt_option_term(TERM) : fmt_word_term(TERM))
		if (DESC != "")
			out(esc(DESC))
		in_item = 1
		item_indent = ind
		need_pp = 0
		last = "item"
	}

	n = split(seealso, w, " ")
	if (n > 0) {
		section("SEE ALSO")
		s = ""
		for (k = 1; k <= n; k++)
			s = s (k > 1 ? ",\n" : "") "\\fB" esc(w[k]) "\\fR(1)"
		print s
	}
}
