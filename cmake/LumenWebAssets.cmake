# The web app `lumen serve` shows at / (issue 16): every file under web/ is turned into a byte
# array in ${PROJECT_BINARY_DIR}/generated/web_assets_data.cpp at build time (never committed),
# compiled into the library, and served from memory by src/lumen/server/web_routes.cpp. Editing
# a file under web/ regenerates it; adding or removing one re-runs the glob at the next build.
set(LUMEN_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})  # this file's folder, wherever the project sits
function(lumen_embed_web_assets target web_dir)
  file(GLOB_RECURSE web_files CONFIGURE_DEPENDS ${web_dir}/*)
  set(out ${PROJECT_BINARY_DIR}/generated/web_assets_data.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${web_dir} -DOUT=${out} -P ${LUMEN_CMAKE_DIR}/embed_web_assets.cmake
    DEPENDS ${web_files} ${LUMEN_CMAKE_DIR}/embed_web_assets.cmake
    COMMENT "Embedding the web app (web/) into web_assets_data.cpp"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
