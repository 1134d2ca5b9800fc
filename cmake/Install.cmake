# `cmake --install <build> --prefix P`: the five libraries, their headers (P/include/rosetta/<folder>/...) and a
# package config (P/lib/cmake/rosetta) so another CMake project can find_package(rosetta) and link rosetta::models,
# rosetta::datasets, ... tests/install_consumer builds such a project against an install in CI.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
find_package(OpenMP COMPONENTS CXX QUIET)  # OpenMP_CXX_FOUND here as kernels/ found it, for the config
set(ROSETTA_INSTALL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/rosetta)
set(_rosetta_libraries runtime kernels layers models datasets)
foreach(_library ${_rosetta_libraries})
  set_target_properties(rosetta_${_library} PROPERTIES EXPORT_NAME ${_library})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_library}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rosetta/${_library}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.inc" PATTERN "comm" EXCLUDE)
endforeach()
# rosetta_warnings is linked privately (LINK_ONLY in the export): it carries no usage requirement a consumer sees.
set_target_properties(rosetta_warnings PROPERTIES EXPORT_NAME warnings)
install(TARGETS rosetta_runtime rosetta_kernels rosetta_layers rosetta_models rosetta_datasets rosetta_warnings
        EXPORT rosettaTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT rosettaTargets NAMESPACE rosetta:: DESTINATION ${ROSETTA_INSTALL_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/rosettaConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/rosettaConfig.cmake INSTALL_DESTINATION ${ROSETTA_INSTALL_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rosettaConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rosettaConfig.cmake ${PROJECT_BINARY_DIR}/rosettaConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindCUDNN.cmake DESTINATION ${ROSETTA_INSTALL_CMAKE_DIR})
