/* The data commands of ttrank (src/cli/cmd_*.c). Each takes argv[0] = the
 * command name and returns the exit status (0 ok, 1 failure, 2 usage). */
#ifndef TTR_CLI_CMD_COMMANDS_H
#define TTR_CLI_CMD_COMMANDS_H

int ttr_cmd_simulate(int argc, char **argv);
int ttr_cmd_train(int argc, char **argv);
int ttr_cmd_eval(int argc, char **argv);
int ttr_cmd_rank(int argc, char **argv);
int ttr_cmd_info(int argc, char **argv);
int ttr_cmd_plot(int argc, char **argv);
int ttr_cmd_quantize(int argc, char **argv);
int ttr_cmd_serving(int argc, char **argv);
int ttr_cmd_learn(int argc, char **argv);
int ttr_cmd_average(int argc, char **argv);
int ttr_cmd_export(int argc, char **argv);
int ttr_cmd_import(int argc, char **argv);
/* `import --onnx` (cmd_import_onnx.c), dispatched by ttr_cmd_import; variant
 * and grid may be NULL (additive, 10x1) */
int ttr_cmd_import_onnx(const char *path, const char *out, const char *variant, const char *grid);
/* `simulate --closed-loop` (cmd_closed_loop.c), dispatched by ttr_cmd_simulate */
int ttr_cmd_closed_loop(int argc, char **argv);

#endif
