/* A small program for the bundled IR sample: structs (one recursive), a loop, a switch,
 * a call to a function defined here, a global string and floating-point arithmetic. */
#include <stdio.h>
#include <stdlib.h>

struct point { float x, y; };
struct node { int value; struct node *next; };

static const char *names[] = {"zero", "one", "two"};

float norm2(struct point p) { return p.x * p.x + p.y * p.y; }

int sum_list(struct node *head) {
    int total = 0;
    for (struct node *n = head; n != NULL; n = n->next) total += n->value;
    return total;
}

const char *classify(int k) {
    switch (k) {
    case 0: return names[0];
    case 1: return names[1];
    case 2: return names[2];
    default: return "many";
    }
}

int main(int argc, char **argv) {
    struct point p = {3.0f, 4.0f};
    struct node c = {3, NULL}, b = {2, &c}, a = {1, &b};
    double scale = argc > 1 ? atof(argv[1]) : 0.5;
    float n = norm2(p) * (float)scale;
    printf("%s %d %f\n", classify(argc), sum_list(&a), n);
    return 0;
}
