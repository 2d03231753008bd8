# SPDX-License-Identifier: Apache-2.0
# idforge_proto_library(<target> ROOT <dir> PROTOS <file>... [SERVICES <file>...])
#
# An object library of the C++ that protoc generates for PROTOS (paths relative to
# ROOT, which is also the import path), with gRPC stubs for those also listed in
# SERVICES. The generated code is built without our warnings; its headers are
# included as "<path>.pb.h" and "<path>.grpc.pb.h".
function(idforge_proto_library target)
  cmake_parse_arguments(P "" "ROOT" "PROTOS;SERVICES" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target})
  set(sources)
  foreach(proto IN LISTS P_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem ${proto})
    set(outputs ${out}/${stem}.pb.cc ${out}/${stem}.pb.h)
    set(args --cpp_out=${out})
    if(proto IN_LIST P_SERVICES)
      list(APPEND outputs ${out}/${stem}.grpc.pb.cc ${out}/${stem}.grpc.pb.h)
      list(APPEND args --grpc_out=${out} --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND protobuf::protoc ${args} -I ${P_ROOT} ${P_ROOT}/${proto}
      DEPENDS ${P_ROOT}/${proto}
      COMMENT "Generating C++ for ${proto}")
    list(APPEND sources ${outputs})
  endforeach()
  add_library(${target} OBJECT ${sources})
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  target_link_libraries(${target} PUBLIC gRPC::grpc++ protobuf::libprotobuf)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
