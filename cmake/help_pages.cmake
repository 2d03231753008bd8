# SPDX-License-Identifier: Apache-2.0
# Writes, from the built binary's own --help, a man page per subcommand
# (idforge.1.gz, idforge-SUB.1.gz) and the bash completion (idforge), into OUT.
#
#   cmake -DIDFORGE=<binary> -DVERSION=<version> -DOUT=<dir> -P help_pages.cmake
#
# The pages hold the help text as it is (no-fill), so they say exactly what
# --help says; nothing is written by hand twice.
file(MAKE_DIRECTORY ${OUT}/man1 ${OUT}/completions)

function(help_of out)
  execute_process(COMMAND ${IDFORGE} ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${IDFORGE} ${ARGN} --help exited with ${rc}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# roff: a backslash is \e; a line starting with . or ' is taken literally with \&.
function(write_page name summary text)
  string(REPLACE "\\" "\\e" body "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" body "${body}")
  string(TOUPPER "${name}" title)
  file(WRITE ${OUT}/man1/${name}.1
    ".TH ${title} 1 \"\" \"idforge ${VERSION}\" \"idforge manual\"\n"
    ".SH NAME\n${name} \\- ${summary}\n.SH DESCRIPTION\n.nf\n${body}.fi\n"
    ".SH SEE ALSO\nidforge(1); the documentation in /usr/share/doc/idforge and at the project's docs/.\n")
  file(ARCHIVE_CREATE OUTPUT ${OUT}/man1/${name}.1.gz PATHS ${OUT}/man1/${name}.1 FORMAT raw COMPRESSION GZip)
  file(REMOVE ${OUT}/man1/${name}.1)
endfunction()

help_of(root)
# The subcommands: lines of the root help with two spaces, a name, and its summary.
string(REGEX MATCHALL "\n  [a-z]+ +[^\n]*" entries "${root}")
set(commands "")
foreach(entry IN LISTS entries)
  string(REGEX MATCH "^\n  ([a-z]+) +(.*)$" _ "${entry}")
  list(APPEND commands ${CMAKE_MATCH_1})
  set(summary_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
if(NOT commands)
  message(FATAL_ERROR "no subcommands found in '${IDFORGE} --help'")
endif()
write_page(idforge "unique IDs for distributed systems" "${root}")

string(JOIN " " command_words ${commands})
set(cases "")
foreach(command IN LISTS commands)
  help_of(text ${command})
  # The summary's first clause: the line may break mid-sentence.
  string(REGEX MATCH "^[^:(.,]*" summary "${summary_${command}}")
  string(STRIP "${summary}" summary)
  write_page(idforge-${command} "${summary}" "${text}")
  string(REGEX MATCHALL "\n +(-[a-zA-Z],)?--[a-z0-9-]+" flags "${text}")
  set(words "")
  foreach(flag IN LISTS flags)
    string(REGEX MATCHALL "-?-[a-zA-Z0-9-]+" names "${flag}")
    list(APPEND words ${names})
  endforeach()
  list(REMOVE_DUPLICATES words)
  string(JOIN " " words ${words})
  string(APPEND cases "    ${command}) words=\"${words}\" ;;\n")
endforeach()

file(WRITE ${OUT}/completions/idforge
"# bash completion for idforge ${VERSION}, generated from its --help.
_idforge() {
  local cur=\${COMP_WORDS[COMP_CWORD]} command=\"\" words w
  for w in \"\${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do
    case \" ${command_words} \" in *\" \$w \"*) command=\$w; break ;; esac
  done
  case \$command in
    \"\") words=\"${command_words} --help --version\" ;;
${cases}  esac
  COMPREPLY=(\$(compgen -W \"\$words\" -- \"\$cur\"))
  if [ \${#COMPREPLY[@]} -eq 0 ] && [[ \$cur != -* ]]; then COMPREPLY=(\$(compgen -f -- \"\$cur\")); fi
}
complete -F _idforge idforge
")
