# SPDX-License-Identifier: Apache-2.0
# `cmake --install` puts the public headers, the library and a CMake package in the
# prefix, so consumers write find_package(idforge) and link idforge::idforge.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(idforge_installed_targets idforge)
if(IDFORGE_WITH_ETCD)
  # Cluster mode's library, idforge::etcd; its package then needs gRPC and protobuf.
  set_target_properties(idforge_etcd PROPERTIES EXPORT_NAME etcd)
  list(APPEND idforge_installed_targets idforge_etcd)
endif()
if(IDFORGE_BUILD_CLIENT)
  # The prefetching client of the service, idforge::client (with gRPC when built with it).
  set_target_properties(idforge_client PROPERTIES EXPORT_NAME client)
  list(APPEND idforge_installed_targets idforge_client)
endif()
# The package's parts that link gRPC and protobuf, so its config finds them.
if(IDFORGE_WITH_ETCD OR (IDFORGE_BUILD_CLIENT AND IDFORGE_WITH_GRPC))
  set(IDFORGE_PACKAGE_NEEDS_GRPC ON)
else()
  set(IDFORGE_PACKAGE_NEEDS_GRPC OFF)
endif()
install(TARGETS ${idforge_installed_targets} EXPORT idforgeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/idforge DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/idforge/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/idforge)
install(EXPORT idforgeTargets NAMESPACE idforge:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/idforge)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/idforgeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/idforgeConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/idforge)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/idforgeConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/idforgeConfig.cmake ${PROJECT_BINARY_DIR}/idforgeConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/idforge)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/idforge)
if(IDFORGE_BUILD_CLI)
  install(TARGETS idforge_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
# The service's gRPC API and the error details it sends, for clients to generate
# their stubs from the definition the server was built with.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/ DESTINATION ${CMAKE_INSTALL_DATADIR}/idforge/proto)
