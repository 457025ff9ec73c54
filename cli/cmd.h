/*
 * cmd.h: the subcommands of rtctl.  Each is int cmd_NAME(argc, argv) with
 * argv[0] the subcommand name, returning an enum rtctl_exit value.
 */
#ifndef RTCTL_CMD_H
#define RTCTL_CMD_H

int cmd_chat(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_poll(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_token(int argc, char **argv);

#endif /* RTCTL_CMD_H */
