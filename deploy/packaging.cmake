# `cpack -G DEB` in the build directory: /usr/bin/mailgate, the systemd unit, the example configuration as
# /etc/mailgate/mailgate.conf (a conffile), a `mailgate` system user and /var/lib/mailgate made by postinst.
set(DEBIAN_DIR ${PROJECT_SOURCE_DIR}/deploy/debian)

install(TARGETS mailgate RUNTIME DESTINATION bin)
# The unit in the repository runs /usr/local/bin/mailgate (a manual install); the package's runs /usr/bin.
file(READ ${PROJECT_SOURCE_DIR}/deploy/mailgate.service unit)
string(REPLACE "/usr/local/bin/mailgate" "/usr/bin/mailgate" unit "${unit}")
string(REGEX REPLACE "^# systemd unit for mailgate[^\n]*\n[^\n]*\n" "# systemd unit for mailgate (Debian package).\n"
       unit "${unit}")
file(WRITE ${CMAKE_BINARY_DIR}/package/mailgate.service "${unit}")
install(FILES ${CMAKE_BINARY_DIR}/package/mailgate.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/mailgate.conf.example DESTINATION /etc/mailgate RENAME mailgate.conf)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/mailgate.conf.example ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION share/doc/mailgate)
install(FILES ${DEBIAN_DIR}/copyright DESTINATION share/doc/mailgate)
# Debian wants the changelog (native package: changelog.gz) and man page gzip-compressed without a timestamp.
set(PACKAGE_OUT ${CMAKE_BINARY_DIR}/package)
add_custom_command(OUTPUT ${PACKAGE_OUT}/changelog.gz ${PACKAGE_OUT}/mailgate.1.gz
                   COMMAND gzip -9 -n -c ${DEBIAN_DIR}/changelog > ${PACKAGE_OUT}/changelog.gz
                   COMMAND gzip -9 -n -c ${DEBIAN_DIR}/mailgate.1 > ${PACKAGE_OUT}/mailgate.1.gz
                   DEPENDS ${DEBIAN_DIR}/changelog ${DEBIAN_DIR}/mailgate.1 VERBATIM)
add_custom_target(mailgate_package_docs ALL DEPENDS ${PACKAGE_OUT}/changelog.gz ${PACKAGE_OUT}/mailgate.1.gz)
install(FILES ${PACKAGE_OUT}/changelog.gz DESTINATION share/doc/mailgate)
install(FILES ${PACKAGE_OUT}/mailgate.1.gz DESTINATION share/man/man1)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mailgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The Maintainer field: set MAILGATE_PACKAGE_CONTACT to whoever ships the package.
set(MAILGATE_PACKAGE_CONTACT "mailgate maintainers <mailgate@example.org>" CACHE STRING "Debian Maintainer field")
set(CPACK_PACKAGE_CONTACT "${MAILGATE_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "LAN mail gateway for legacy POP3/IMAP/SMTP clients")
set(CPACK_PACKAGE_DESCRIPTION
    "mailgate accepts POP3, IMAP and SMTP from old mail clients, phones, printers\nand scanners on the LAN and logs in to the mail provider over verified TLS\nwith a centrally kept credential (app password or OAuth2 tokens). A web\nadmin page manages the accounts.")
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, ca-certificates")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${DEBIAN_DIR}/conffiles ${DEBIAN_DIR}/postinst ${DEBIAN_DIR}/prerm
    ${DEBIAN_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
