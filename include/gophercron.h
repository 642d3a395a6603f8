/* libgophercron umbrella header: include this one. */
#ifndef GOPHERCRON_H
#define GOPHERCRON_H

#include <gophercron/common.h>
#include <gophercron/cron.h>
#include <gophercron/keys.h>
#include <gophercron/exec.h>
#include <gophercron/job.h>
#include <gophercron/etcd.h>
#include <gophercron/config.h>
#include <gophercron/store.h>
#include <gophercron/service.h>
#include <gophercron/agent.h>
#include <gophercron/reporter.h>

#endif
