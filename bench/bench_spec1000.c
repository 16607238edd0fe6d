/*
 * bench_spec1000: writes a Sovereign spec with 1,000 jobs (the 5-job
 * provisioner chain and 995 simulated installs in a binary-tree DAG) to the
 * path given, for bench/server.sh. Durations are a couple of seconds at
 * --speed 1, so at --speed 1000 the whole run settles in about a second.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.yaml\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fprintf(f, "sovereign: {name: bench1000, fqdn: bench.example.org, provider: hetzner,\n"
               "            regions: [fsn1], deploymentId: 00000000b3c41000}\n"
               "groups:\n"
               "  - name: provisioner\n"
               "    displayName: Provision Hetzner\n"
               "    jobs:\n");
    const char *chain[] = {"tofu-init", "tofu-plan", "tofu-apply", "tofu-output",
                           "cluster-bootstrap"};
    for (int i = 0; i < 5; i++) {
        fprintf(f, "      - {name: %s", chain[i]);
        if (i)
            fprintf(f, ", dependsOn: [%s]", chain[i - 1]);
        fprintf(f, ", simulate: {duration: 1s, logs: [\"%s step\"]}}\n", chain[i]);
    }
    fprintf(f, "  - name: bootstrap-kit\n"
               "    displayName: Bootstrap\n"
               "    after: [provisioner]\n"
               "    jobs:\n");
    for (int i = 0; i < 995; i++) {
        fprintf(f, "      - {name: install-c%04d, app: c%04d", i, i);
        if (i)
            fprintf(f, ", dependsOn: [install-c%04d]", (i - 1) / 2);
        fprintf(f, ", simulate: {duration: 2s, logs: [\"helm install c%04d\", "
                   "\"release in-sync\"]}}\n", i);
    }
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
