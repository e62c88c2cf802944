package io.tunestream.trainer.api;

import io.tunestream.trainer.service.TrainerService;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;

/** The API's logic over the service's loop and owner lookup, for the resource. */
public class ApiBeans {

    @Produces
    @ApplicationScoped
    TrainerApi trainerApi(TrainerService service) {
        return new TrainerApi(service::loop, (group, topic) -> service.owners().owners(group, topic),
                service.apiTimeout());
    }
}
