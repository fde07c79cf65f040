/* vkn-data install (install.c): the datasets into the user data folder. */
#ifndef VKN_DATA_INSTALL_H
#define VKN_DATA_INSTALL_H

#include <stdio.h>

/* argv[0] is "install"; returns the exit status. */
int data_install(int argc, char **argv);
void data_install_usage(FILE *f);

#endif
