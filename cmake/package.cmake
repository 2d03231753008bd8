# SPDX-License-Identifier: Apache-2.0
# What the Debian package adds to `cmake --install`, and the package itself
# (cpack -G DEB in the build directory: idforge_<version>_<arch>.deb).
#
#   lib/pkgconfig/idforge.pc            pkg-config for the library (relocatable)
#   lib/systemd/system/idforge.service  the hardened unit (its binary path from the prefix)
#   share/idforge/idforge.env           the settings file, copied to /etc/default/idforge on first install
#   share/man/man1/idforge*.1.gz        a page per subcommand, from --help
#   share/bash-completion/completions/idforge
file(RELATIVE_PATH IDFORGE_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
configure_file(${PROJECT_SOURCE_DIR}/packaging/idforge.pc.in ${PROJECT_BINARY_DIR}/idforge.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/idforge.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(IDFORGE_BUILD_CLI)
  # The unit names the installed binary, so it is written at install time, when the prefix is known.
  install(CODE "
    set(IDFORGE_BINARY \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/idforge\")
    configure_file(${PROJECT_SOURCE_DIR}/packaging/idforge.service.in ${PROJECT_BINARY_DIR}/idforge.service @ONLY)")
  install(FILES ${PROJECT_BINARY_DIR}/idforge.service DESTINATION lib/systemd/system)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/idforge.env DESTINATION ${CMAKE_INSTALL_DATADIR}/idforge)

  set(help_pages ${PROJECT_BINARY_DIR}/help_pages)
  add_custom_command(OUTPUT ${help_pages}/man1/idforge.1.gz ${help_pages}/completions/idforge
    COMMAND ${CMAKE_COMMAND} -DIDFORGE=$<TARGET_FILE:idforge_cli> -DVERSION=${PROJECT_VERSION} -DOUT=${help_pages}
            -P ${PROJECT_SOURCE_DIR}/cmake/help_pages.cmake
    DEPENDS idforge_cli ${PROJECT_SOURCE_DIR}/cmake/help_pages.cmake
    COMMENT "Writing the man pages and bash completion from idforge --help")
  add_custom_target(idforge_help_pages ALL DEPENDS ${help_pages}/man1/idforge.1.gz)
  install(DIRECTORY ${help_pages}/man1 DESTINATION ${CMAKE_INSTALL_MANDIR})
  install(FILES ${help_pages}/completions/idforge DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME idforge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "idforge maintainers <maintainers@idforge.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "The idforge command (gen, decode, layout, verify, serve, nodes, sql, range),
 the ID service with its systemd unit (idforge.service: HTTP and gRPC, nodes held
 in /var/lib/idforge or leased from etcd), and the C++ library with its headers,
 CMake package and pkg-config file.")
# Building against the library's cluster and client parts needs gRPC's headers.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libgrpc++-dev, libprotobuf-dev")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
