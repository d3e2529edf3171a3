/*
 * provision.h - turns a project file into kits: keys, configurations and a
 * signed manifest for the coordinator, every site and every researcher.
 *
 * Project file (JSON; relative paths are taken from its folder):
 *   {"project": "cardio-2027",
 *    "coordinator": {"endpoint": "tcp://coord.example.org:7700",
 *                    "bind": "tcp://0.0.0.0:7700",
 *                    "admin_endpoint": "tcp://coord.example.org:7701",
 *                    "admin_bind": "tcp://0.0.0.0:7701",
 *                    "state_dir": "/var/lib/fedlora/coordinator"},
 *    "sites": [{"name": "hospital-a"},
 *              {"name": "hospital-b", "public_key_file": "hospital-b.pub"}],
 *    "researchers": [{"name": "alice"}]}
 * A site or researcher with "public_key_file" made its own keys with
 * `fedlora keygen`; its kit then holds no secret key. A site entry may also
 * set "train_files", "validation_file", "base_model_dir", "state_dir",
 * "audit_log" and "accepted_researchers" for its agent.conf.
 *
 * Output folder:
 *   project/project.key, project.pub       the key that signs the manifest
 *   coordinator/                           coordinator.key, coordinator.conf, manifest.json
 *   sites/NAME/                            site.key (unless distributed), agent.conf, manifest.json
 *   researchers/NAME/                      researcher.key, fedlora.conf, manifest.json
 *   fingerprints.txt                       every public key's fingerprint
 */
#ifndef PROVISION_H
#define PROVISION_H

#include <stdio.h>

#include "fl_error.h"

/*
 * Writes the kits for project_path into out_dir, which must not hold a
 * previous kit. Prints the fingerprints to report. Returns 0 or a negative
 * fl_status with err naming the file and field.
 */
int provision_run(const char *project_path, const char *out_dir, FILE *report,
                  fl_error *err) FL_WARN_UNUSED;

#endif
